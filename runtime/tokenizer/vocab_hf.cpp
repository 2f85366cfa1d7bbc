// Vocabulary reader for Hugging Face tokenizer.json (model BPE): byte-level BPE vocabularies
// (ByteLevel / Split pre-tokenizers) become "gpt2" vocabularies, SentencePiece-converted ones
// (Prepend/Replace "▁" normalisers or Metaspace) become "llama" vocabularies whose scores rank
// merged tokens by their first merge.
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/formats/mapped_file.h"
#include "runtime/tokenizer/pretokenizer.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/tokenizer/unicode_text.h"

namespace ll::rt {

namespace {

using Json = nlohmann::json;
constexpr const char* kMeta = "\xE2\x96\x81";
constexpr int64_t kMaxVocab = 1 << 24;

struct Shape {
  bool byteLevel = false, spm = false, prefix = false;
  std::vector<std::string> regexes;
  std::string normalizer;
};

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

void scanNormalizer(const Json& n, Shape& s) {
  if (!n.is_object()) return;
  const std::string type = str(n, "type");
  if (type == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array()) {
    for (const auto& x : n["normalizers"]) scanNormalizer(x, s);
  } else if (type == "Prepend" && str(n, "prepend") == kMeta) {
    s.spm = s.prefix = true;
  } else if (type == "Replace" && str(n, "content") == kMeta) {
    s.spm = true;
  } else if (type == "NFC") {
    s.normalizer = "nfc";
  } else if (type == "NFKC") {
    s.normalizer = "nfkc";
  }
}

void scanPre(const std::filesystem::path& file, const Json& p, Shape& s) {
  if (!p.is_object()) return;
  const std::string type = str(p, "type");
  if (type == "Sequence" && p.contains("pretokenizers") && p["pretokenizers"].is_array()) {
    for (const auto& x : p["pretokenizers"]) scanPre(file, x, s);
  } else if (type == "ByteLevel") {
    s.byteLevel = true;
    s.prefix = s.prefix || p.value("add_prefix_space", false);
    if (p.value("use_regex", true))
      s.regexes.push_back(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
  } else if (type == "Split") {
    const auto pat = p.find("pattern");
    if (pat == p.end() || !pat->is_object()) throw FormatError(file, "Split without pattern");
    if (pat->contains("Regex") && (*pat)["Regex"].is_string())
      s.regexes.push_back((*pat)["Regex"].get<std::string>());
    else if (pat->contains("String") && (*pat)["String"].is_string())
      s.regexes.push_back("\\Q" + (*pat)["String"].get<std::string>() + "\\E");
    else
      throw FormatError(file, "Split pattern is neither Regex nor String");
  } else if (type == "Digits") {
    s.regexes.push_back(p.value("individual_digits", false) ? "\\p{N}" : "\\p{N}+");
  } else if (type == "Metaspace") {
    s.spm = true;
    const std::string scheme = str(p, "prepend_scheme");
    s.prefix = scheme.empty() ? p.value("add_prefix_space", true) : scheme != "never";
  } else if (!type.empty()) {
    throw FormatError(file, "unsupported pre_tokenizer '" + type + "'");
  }
}

Json readJson(const std::filesystem::path& file) {
  const auto map = MappedFile::open(file);
  try {
    return Json::parse(map->data(), map->data() + map->size());
  } catch (const Json::exception& e) {
    throw FormatError(file, std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace

static VocabData readTokenizerJson(const std::filesystem::path& file) {
  const Json j = readJson(file);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    throw FormatError(file, "no \"model\" object");
  const Json& m = j["model"];
  if (str(m, "type") != "BPE" && !(m.contains("merges") && !m.contains("type")))
    throw FormatError(file, "unsupported model type '" + str(m, "type") + "' (BPE only)");
  if (!m.contains("vocab") || !m["vocab"].is_object()) throw FormatError(file, "no model.vocab");

  VocabData v;
  int64_t n = 0;
  for (const auto& [text, id] : m["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= kMaxVocab)
      throw FormatError(file, "bad id for token '" + text + "'");
    n = std::max(n, id.get<int64_t>() + 1);
  }
  const Json added = j.value("added_tokens", Json::array());
  if (!added.is_array()) throw FormatError(file, "added_tokens is not an array");
  for (const auto& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
        !a.contains("content") || !a["content"].is_string())
      throw FormatError(file, "bad added_tokens entry");
    const int64_t id = a["id"].get<int64_t>();
    if (id < 0 || id >= kMaxVocab) throw FormatError(file, "added token id out of range");
    n = std::max(n, id + 1);
  }
  if (n == 0) throw FormatError(file, "empty vocabulary");
  // Ids may leave gaps, but not enough to make a small file allocate a huge table.
  if (n > int64_t(m["vocab"].size() + added.size()) + 4096)
    throw FormatError(file, "token ids far beyond the number of tokens");
  v.tokens.assign(size_t(n), std::string());
  v.types.assign(size_t(n), TokenType::Unused);
  v.scores.assign(size_t(n), 0.0f);
  std::map<std::string, int32_t> toId;
  for (const auto& [text, id] : m["vocab"].items()) {
    if (!uni::isValidUtf8(text)) throw FormatError(file, "token is not valid UTF-8");
    v.tokens[size_t(id.get<int64_t>())] = text;
    v.types[size_t(id.get<int64_t>())] = TokenType::Normal;
    toId[text] = int32_t(id.get<int64_t>());
  }

  Shape shape;
  scanNormalizer(j.value("normalizer", Json()), shape);
  scanPre(file, j.value("pre_tokenizer", Json()), shape);
  const bool byteFallback = m.value("byte_fallback", false);
  v.normalizer = shape.normalizer;
  v.ignoreMerges = m.value("ignore_merges", false);

  // Merges: "a b" strings or [a, b] pairs; both halves must be tokens.
  const Json merges = m.value("merges", Json::array());
  if (!merges.is_array()) throw FormatError(file, "model.merges is not an array");
  v.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const Json& e = merges[i];
    std::string a, b;
    if (e.is_string()) {
      const std::string s = e.get<std::string>();
      const size_t sp = s.find(' ', 1);
      if (sp == std::string::npos)
        throw FormatError(file, "merge " + std::to_string(i) + " has no space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      throw FormatError(file, "merge " + std::to_string(i) + " is neither \"a b\" nor [a, b]");
    }
    if (!toId.count(a) || !toId.count(b))
      throw FormatError(file, "merge " + std::to_string(i) + " uses a token not in the vocabulary");
    v.merges.push_back(a + " " + b);
  }

  if (shape.byteLevel || (!shape.spm && !shape.regexes.empty())) {
    v.model = "gpt2";
    v.addSpacePrefix = shape.prefix;  // ByteLevel add_prefix_space
    // The GPT-2 ByteLevel regex is llama.cpp's "gpt-2" family; anything else runs as written.
    if (shape.regexes.size() == 1 &&
        shape.regexes[0].rfind("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+", 0) == 0 &&
        shape.regexes[0].size() < 90) {
      v.pre = "gpt-2";
    } else {
      v.pre = "custom";
      v.preRegexes = shape.regexes;
      try {
        PreTokenizer check(v.preRegexes, PreTokenizer::Mode::Ucp);
      } catch (const std::runtime_error& e) {
        throw FormatError(file, e.what());
      }
    }
  } else if (shape.spm) {
    v.model = "llama";
    v.pre = "default";
    v.addSpacePrefix = shape.prefix;
    // SPM picks the adjacent pair forming the best-scored token: score = -(rank of first merge).
    std::vector<float> score(size_t(n), -1e30f);
    for (size_t i = 0; i < v.merges.size(); ++i) {
      const std::string& s = v.merges[i];
      const size_t sp = s.find(' ', 1);
      auto it = toId.find(s.substr(0, sp) + s.substr(sp + 1));
      if (it != toId.end() && score[it->second] == -1e30f) score[it->second] = -float(i);
    }
    v.scores = std::move(score);
    v.merges.clear();
    if (byteFallback)
      for (size_t i = 0; i < v.tokens.size(); ++i) {
        const std::string& t = v.tokens[i];
        if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>')
          v.types[i] = TokenType::Byte;
      }
  } else {
    throw FormatError(file, "neither a byte-level nor a SentencePiece-style BPE tokenizer");
  }

  for (const auto& a : added) {
    const size_t id = size_t(a["id"].get<int64_t>());
    const std::string content = a["content"].get<std::string>();
    if (!uni::isValidUtf8(content)) throw FormatError(file, "added token is not valid UTF-8");
    v.tokens[id] = content;
    v.types[id] = a.value("special", false) ? TokenType::Control : TokenType::UserDefined;
    if (a.value("lstrip", false)) v.lstripIds.push_back(int32_t(id));
    if (a.value("rstrip", false)) v.rstripIds.push_back(int32_t(id));
    toId[content] = int32_t(id);
  }
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.tokens[i].empty()) v.tokens[i] = "[UNUSED_" + std::to_string(i) + "]";

  auto idOf = [&](const std::string& t) -> int32_t {
    auto it = toId.find(t);
    return it == toId.end() ? -1 : it->second;
  };
  v.unk = idOf(str(m, "unk_token"));
  // BOS / EOS from TemplateProcessing, else tokenizer_config.json next to the file.
  const Json post = j.value("post_processor", Json());
  if (post.is_object() && str(post, "type") == "TemplateProcessing" && post.contains("single") &&
      post["single"].is_array() && !post["single"].empty()) {
    const Json& single = post["single"];
    auto special = [&](const Json& e) -> int32_t {
      if (!e.is_object() || !e.contains("SpecialToken")) return -1;
      return idOf(str(e["SpecialToken"], "id"));
    };
    if (int32_t id = special(single.front()); id >= 0) v.bos = id, v.addBos = true;
    if (single.size() > 1)
      if (int32_t id = special(single.back()); id >= 0) v.eos = id, v.addEos = true;
  }
  const auto cfgPath = file.parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(cfgPath, ec)) {
    const Json cfg = readJson(cfgPath);
    auto tokenName = [&](const char* key) -> std::string {
      if (!cfg.contains(key)) return {};
      const Json& t = cfg[key];
      if (t.is_string()) return t.get<std::string>();
      if (t.is_object()) return str(t, "content");
      return {};
    };
    if (v.bos < 0) v.bos = idOf(tokenName("bos_token"));
    if (v.eos < 0) v.eos = idOf(tokenName("eos_token"));
    if (v.unk < 0) v.unk = idOf(tokenName("unk_token"));
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean())
      v.addBos = cfg["add_bos_token"].get<bool>();
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean())
      v.addEos = cfg["add_eos_token"].get<bool>();
  }
  return v;
}

VocabData vocabFromTokenizerJson(const std::filesystem::path& file) {
  try {
    return readTokenizerJson(file);
  } catch (const Json::exception& e) {
    // A field of the wrong JSON type somewhere in the file.
    throw FormatError(file, std::string("unexpected JSON structure: ") + e.what());
  }
}

}  // namespace ll::rt
