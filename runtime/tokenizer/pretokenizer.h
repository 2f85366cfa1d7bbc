// Byte-level BPE pre-tokenizers: regex lists applied in turn, each refining the previous split,
// reproducing llama.cpp's unicode_regex_split per tokenizer.ggml.pre family (PCRE2, JIT).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/tokenizer/unicode_text.h"

namespace ll::rt {

// Category regexes (\p{L}, \p{N}, \p{P}) run on llama.cpp's "collapsed" text (one byte per
// character class) so results match it exactly; others run in PCRE2 UTF mode.
class PreTokenizer {
 public:
  enum class Mode { LlamaCpp, Ucp };
  // LlamaCpp: llama.cpp's emulation (collapsed classes / wide regex). Ucp: plain PCRE2 UTF+UCP
  // (regexes taken verbatim from an HF tokenizer.json). Throws std::runtime_error on a bad regex.
  PreTokenizer(std::vector<std::string> regexes, Mode mode);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Word lengths in codepoints, in order, summing to cpts.size().
  std::vector<size_t> split(const std::vector<uni::Cpt>& cpts) const;

  // The regex list of a tokenizer.ggml.pre family; throws for an unknown family.
  static std::vector<std::string> regexesFor(const std::string& pre);

 private:
  struct Compiled;
  std::vector<std::unique_ptr<Compiled>> m_regexes;
};

}  // namespace ll::rt
