// Tokenizers exactly as the model's own: SentencePiece-style BPE with scores and byte fallback
// (llama/mistral/TinyStories) and byte-level BPE with merges and pre-tokenizer regex families
// (gpt2, llama3, qwen2, deepseek, falcon, starcoder, ...). Every token keeps its byte span in the
// input text so overlays can be drawn on what the user typed.
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
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6
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
};

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::string> pieces;            // token strings as bytes of text they stand for
  std::vector<std::pair<int, int>> spans;     // [begin, end) byte offsets into the input text
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // addBos: -1 = the vocabulary's default, 0 = no, 1 = yes.
  virtual Encoding encode(std::string_view text, int addBos = -1, bool parseSpecial = false) const = 0;
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
