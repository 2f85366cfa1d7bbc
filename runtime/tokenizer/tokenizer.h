// Tokenizers exactly as the model's own (llama.cpp's SPM and byte-level BPE), where every token
// keeps its byte span in the input text so overlays can be drawn on what the user typed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ll::rt {

class GgufFile;

enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6
};

// Everything a tokenizer is built from, whatever the source (GGUF tokenizer.ggml.*, HF
// tokenizer.json, llama2.c tok*.bin).
struct VocabData {
  std::string model;  // "llama" (SPM) or "gpt2" (byte-level BPE)
  std::string pre;    // pre-tokenizer family: "default", "llama-bpe", "qwen2", "deepseek-llm", ...
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<TokenType> types;
  std::vector<std::string> merges;  // "a b"
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  bool addBos = false;
  bool addEos = false;
  bool addSpacePrefix = true;  // SPM: prepend a space (llama)

  // Additions beyond the tokenizer.ggml.* basics.
  std::string modelName;  // general.name: llama.cpp strips whitespace after phi-3 specials
  std::vector<std::string> preRegexes;  // non-empty: split with these instead of the `pre` family
  std::string normalizer;               // "" or "nfc" / "nfkc" (HF tokenizer.json, via utf8proc)
  bool ignoreMerges = false;  // a whole pre-token found in the vocab is one token (llama3)
  std::vector<int32_t> lstripIds, rstripIds;  // added tokens that swallow whitespace left / right
};

// Spans: every token gets [begin, end) byte offsets into the exact input text, in order and never
// overlapping. Byte-fallback tokens (<0xXX>, or byte-level pieces of one character) get the exact
// byte they stand for. Where several normalised bytes stand for one input range (the 3 bytes of
// U+2581 for a space, of U+FFFD for an invalid input byte) the first byte carries the range and
// the rest are empty at its end. Bytes that exist only through normalisation have no input: BOS
// gets [0, 0), EOS [n, n), and the U+2581 that SPM prepends (add_space_prefix) adds nothing to
// its token's span (piece " Hello", span "Hello"; a lone prefix token gets [off, off)).
// Whitespace a special token strips (phi-3 rstrip) belongs to that token's span. So the spans
// tile the input except where a byte-level vocabulary drops a byte it has no token for.
// Pieces differ from their span's bytes only through those normalisations (prefix space, U+2581
// typed by the user decoding to " ", U+FFFD replacements, stripped whitespace, BOS/EOS text).
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::string> pieces;         // token strings as bytes of text they stand for
  std::vector<std::pair<int, int>> spans;  // [begin, end) byte offsets into the input text
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // addBos: -1 = the vocabulary's default BOS/EOS (llama.cpp add_special = true), 0 = neither
  // (add_special = false, as --no-bos), 1 = BOS even if the vocabulary does not add one.
  // parseSpecial: control/unknown token text in `text` (e.g. "<s>") becomes those tokens.
  // User-defined (added, non-special) tokens are always matched first, as in llama.cpp. HF
  // tokenizers parse added tokens by default: their ids equal ours with parseSpecial = true.
  virtual Encoding encode(std::string_view text, int addBos = -1,
                          bool parseSpecial = false) const = 0;
  // Bytes of the ids concatenated (byte tokens become their byte; may be invalid UTF-8).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // Bytes one token stands for (control tokens: their text, e.g. "<s>").
  virtual std::string piece(int32_t id) const = 0;
  virtual int32_t vocabSize() const = 0;
  virtual int32_t bos() const = 0;
  virtual int32_t eos() const = 0;
  virtual bool addBosDefault() const = 0;
  virtual const VocabData& vocab() const = 0;
};

// Throws std::runtime_error naming the problem (e.g. unknown pre-tokenizer "xyz").
std::unique_ptr<Tokenizer> makeTokenizer(VocabData vocab);

// Vocabulary readers (throw FormatError naming the file).
VocabData vocabFromGguf(const GgufFile& file);
VocabData vocabFromTokenizerJson(const std::filesystem::path& tokenizerJson);
VocabData vocabFromLlama2c(const std::filesystem::path& tokBin);

}  // namespace ll::rt
