// Vocabulary readers for GGUF (tokenizer.ggml.*) and llama.cpp-era llama2.c tok*.bin files.
#include <cstring>

#include "runtime/formats/gguf.h"
#include "runtime/formats/mapped_file.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/tokenizer/unicode_text.h"

namespace ll::rt {

namespace {

TokenType typeFromInt(int64_t t) {
  return (t >= 0 && t <= 6) ? TokenType(int32_t(t)) : TokenType::Undefined;
}

void checkUtf8(const std::filesystem::path& file, const std::vector<std::string>& tokens) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (!uni::isValidUtf8(tokens[i]))
      throw FormatError(file, "token " + std::to_string(i) + " is not valid UTF-8");
}

bool isByteTokenText(const std::string& t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

}  // namespace

VocabData vocabFromGguf(const GgufFile& file) {
  const auto& path = file.path();
  VocabData v;
  const auto model = file.getString("tokenizer.ggml.model");
  if (!model) throw FormatError(path, "no tokenizer.ggml.model");
  v.model = *model;
  if (v.model != "llama" && v.model != "gpt2")
    throw FormatError(path, "unsupported tokenizer model '" + v.model + "'");
  v.pre = file.getString("tokenizer.ggml.pre").value_or("");
  v.modelName = file.getString("general.name").value_or("");
  v.tokens = file.getStringArray("tokenizer.ggml.tokens");
  const size_t n = v.tokens.size();
  if (n == 0) throw FormatError(path, "no tokenizer.ggml.tokens");
  if (n > size_t(INT32_MAX)) throw FormatError(path, "too many tokens");
  checkUtf8(path, v.tokens);
  v.scores = file.getFloatArray("tokenizer.ggml.scores");
  if (!v.scores.empty() && v.scores.size() < n)
    throw FormatError(path, "tokenizer.ggml.scores has fewer entries than tokens");
  v.scores.resize(n, 0.0f);
  const auto types = file.getIntArray("tokenizer.ggml.token_type");
  if (!types.empty() && types.size() < n)
    throw FormatError(path, "tokenizer.ggml.token_type has fewer entries than tokens");
  v.types.assign(n, TokenType::Normal);
  for (size_t i = 0; i < n && i < types.size(); ++i) v.types[i] = typeFromInt(types[i]);

  const bool spm = v.model == "llama";
  if (!spm) {
    if (!file.find("tokenizer.ggml.merges")) throw FormatError(path, "no tokenizer.ggml.merges");
    v.merges = file.getStringArray("tokenizer.ggml.merges");
    checkUtf8(path, v.merges);
  }
  // llama.cpp's defaults, then whatever the file sets (ids out of range keep the default).
  v.bos = spm ? 1 : 11;
  v.eos = spm ? 2 : 11;
  v.unk = spm ? 0 : -1;
  auto readId = [&](const char* key, int32_t& id) {
    if (id >= int64_t(n)) id = -1;
    if (auto x = file.getInt(key); x && *x >= 0 && *x < int64_t(n)) id = int32_t(*x);
  };
  readId("tokenizer.ggml.bos_token_id", v.bos);
  readId("tokenizer.ggml.eos_token_id", v.eos);
  readId("tokenizer.ggml.unknown_token_id", v.unk);
  readId("tokenizer.ggml.padding_token_id", v.pad);
  const std::string& pre = v.pre;
  v.addBos = spm || pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" ||
             pre == "falcon3" || pre == "tekken" || pre == "chameleon";
  v.addEos = false;
  v.addSpacePrefix = spm;
  if (auto x = file.getInt("tokenizer.ggml.add_bos_token")) v.addBos = *x != 0;
  if (auto x = file.getInt("tokenizer.ggml.add_eos_token")) v.addEos = *x != 0;
  if (auto x = file.getInt("tokenizer.ggml.add_space_prefix")) v.addSpacePrefix = *x != 0;
  if (!spm) v.addSpacePrefix = false;  // llama.cpp's BPE path never prepends a space
  return v;
}

VocabData vocabFromLlama2c(const std::filesystem::path& tokBin) {
  const auto map = MappedFile::open(tokBin);
  const uint8_t* p = map->data();
  const size_t size = map->size();
  size_t pos = 0;
  auto readI32 = [&](const char* what) {
    if (size - pos < 4) throw FormatError(tokBin, std::string("truncated at ") + what);
    int32_t x;
    std::memcpy(&x, p + pos, 4);
    pos += 4;
    return x;
  };
  VocabData v;
  v.model = "llama";
  v.pre = "default";
  const int32_t maxLen = readI32("max_token_length");
  if (maxLen <= 0 || maxLen > 1 << 16) throw FormatError(tokBin, "bad max_token_length");
  while (pos < size) {
    const size_t id = v.tokens.size();
    float score;
    if (size - pos < 4) throw FormatError(tokBin, "truncated score of token " + std::to_string(id));
    std::memcpy(&score, p + pos, 4);
    pos += 4;
    const int32_t len = readI32("token length");
    if (len < 0 || len > maxLen || size_t(len) > size - pos)
      throw FormatError(tokBin, "bad length of token " + std::to_string(id));
    std::string text(reinterpret_cast<const char*>(p + pos), size_t(len));
    pos += size_t(len);
    TokenType type = TokenType::Normal;
    if (id == 0) {
      type = TokenType::Unknown;
    } else if (id == 1 || id == 2) {
      // llama2.c stores BOS/EOS as "\n<s>\n" / "\n</s>\n"; the model's own names are <s> / </s>.
      if (text == "\n<s>\n") text = "<s>";
      if (text == "\n</s>\n") text = "</s>";
      type = TokenType::Control;
    } else if (isByteTokenText(text)) {
      type = TokenType::Byte;
    } else {
      // llama2.c keeps raw spaces in pieces; SentencePiece (and the GGUF twin) spells them U+2581.
      std::string spm;
      for (char c : text) spm += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
      text = std::move(spm);
    }
    if (!uni::isValidUtf8(text))
      throw FormatError(tokBin, "token " + std::to_string(id) + " is not valid UTF-8");
    v.tokens.push_back(std::move(text));
    v.scores.push_back(score);
    v.types.push_back(type);
  }
  if (v.tokens.size() < 3) throw FormatError(tokBin, "fewer than 3 tokens");
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  v.addBos = true;
  v.addSpacePrefix = true;
  return v;
}

}  // namespace ll::rt
