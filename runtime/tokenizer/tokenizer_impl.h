// Internals shared by the SPM and byte-level BPE tokenizers: vocabulary index, llama.cpp token
// attributes, special-token partitioning and text whose bytes keep their input offsets.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/tokenizer/pretokenizer.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt::detail {

// llama_token_attr bits.
enum Attr : uint32_t {
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,
  kAttrRstrip = 1u << 8
};

struct SvHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, SvHash, std::equal_to<>>;

// A token with its byte span in the input.
struct TokOut {
  int32_t id;
  uint32_t begin, end;
};

// Text after normalisation; byte i stands for input bytes [src[i].first, src[i].second).
struct MappedText {
  std::string s;
  std::vector<std::pair<uint32_t, uint32_t>> src;
  // Several bytes standing for one input range: the first carries it, the rest are empty at its
  // end, so spans of tokens that split them stay ordered and never overlap.
  void append(std::string_view bytes, uint32_t b, uint32_t e) {
    s.append(bytes);
    if (bytes.empty()) return;
    src.emplace_back(b, e);
    src.insert(src.end(), bytes.size() - 1, {e, e});
  }
};

class BaseTokenizer : public Tokenizer {
 public:
  explicit BaseTokenizer(VocabData v);
  Encoding encode(std::string_view text, int addBos, bool parseSpecial) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string piece(int32_t id) const override;
  int32_t vocabSize() const override { return int32_t(m_v.tokens.size()); }
  int32_t bos() const override { return m_v.bos; }
  int32_t eos() const override { return m_v.eos; }
  bool addBosDefault() const override { return m_v.addBos && m_v.bos >= 0; }
  const VocabData& vocab() const override { return m_v; }

 protected:
  // Encodes one piece of plain text (between special tokens). prevSpecial: it is the first piece
  // or follows a special token (SPM prepends its space then).
  virtual void encodeText(std::string_view input, uint32_t off, uint32_t len, bool prevSpecial,
                          std::vector<TokOut>& out) const = 0;
  int32_t find(std::string_view text) const {
    auto it = m_toId.find(text);
    return it == m_toId.end() ? -1 : it->second;
  }
  // Input bytes [off, off+len) after the optional NFC/NFKC normaliser.
  MappedText mapText(std::string_view input, uint32_t off, uint32_t len) const;
  void finishPieces();  // fills m_pieces once the subclass knows how tokens decode

  VocabData m_v;
  TokenMap m_toId;
  std::vector<uint32_t> m_attr;
  std::vector<int32_t> m_specials;  // control / user-defined / unknown, longest text first
  std::vector<std::string> m_pieces;
};

std::unique_ptr<Tokenizer> makeSpmTokenizer(VocabData v);
std::unique_ptr<Tokenizer> makeBpeTokenizer(VocabData v);

}  // namespace ll::rt::detail
