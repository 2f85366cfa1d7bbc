// Untrusted input: malformed tokenizer.json / tok*.bin / GGUF vocabularies give FormatError naming
// the file, random bytes never crash the tokenizers, byte-level round trips are lossless and
// spans stay ordered even on 100 KB inputs without spaces.
#include <cstring>
#include <random>

#include "runtime/formats/mapped_file.h"
#include "runtime/tokenizer/pretokenizer.h"
#include "runtime/tokenizer/unicode_text.h"
#include "tok_test_util.h"

using namespace toktest;
namespace fs = std::filesystem;

namespace {

fs::path tmpFile(const std::string& name, const std::string& bytes) {
  const fs::path p =
      fs::temp_directory_path() / ("ll_tok_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

template <class F>
void expectFormatError(F&& f, const fs::path& file, const std::string& what) {
  try {
    f();
  } catch (const ll::rt::FormatError& e) {
    QVERIFY2(std::string(e.what()).find(file.filename().string()) != std::string::npos,
             what + ": message does not name the file: " + e.what());
    return;
  }
  QFAIL(what + ": no FormatError");
}

// A minimal GGUF v3 with only metadata (no tensors).
struct GgufWriter {
  std::string out;
  uint64_t nkv = 0;
  std::string kv;
  void u32(std::string& s, uint32_t x) { s.append(reinterpret_cast<const char*>(&x), 4); }
  void u64(std::string& s, uint64_t x) { s.append(reinterpret_cast<const char*>(&x), 8); }
  void str(std::string& s, const std::string& x) {
    u64(s, x.size());
    s += x;
  }
  void key(const std::string& k, uint32_t type) {
    str(kv, k);
    u32(kv, type);
    ++nkv;
  }
  void putString(const std::string& k, const std::string& v) {
    key(k, 8);
    str(kv, v);
  }
  void putStrings(const std::string& k, const std::vector<std::string>& v) {
    key(k, 9);
    u32(kv, 8);
    u64(kv, v.size());
    for (const auto& x : v) str(kv, x);
  }
  void putInts(const std::string& k, const std::vector<int32_t>& v) {
    key(k, 9);
    u32(kv, 5);
    u64(kv, v.size());
    for (int32_t x : v) u32(kv, uint32_t(x));
  }
  void putFloats(const std::string& k, const std::vector<float>& v) {
    key(k, 9);
    u32(kv, 6);
    u64(kv, v.size());
    for (float x : v) kv.append(reinterpret_cast<const char*>(&x), 4);
  }
  void putU32(const std::string& k, uint32_t v) {
    key(k, 4);
    u32(kv, v);
  }
  std::string bytes() {
    std::string s = "GGUF";
    u32(s, 3);
    u64(s, 0);
    u64(s, nkv);
    return s + kv;
  }
};

std::unique_ptr<ll::rt::Tokenizer> ggufTok(const fs::path& shared, const char* name) {
  return fromGguf(shared / "models/vocab" / (std::string("ggml-vocab-") + name + ".gguf"));
}

}  // namespace

LL_TEST(badTokenizerJson) {
  struct Case {
    const char* name;
    std::string json;
  };
  const Case cases[] = {
      {"truncated.json", R"({"model": {"type": "BPE", "vocab": {"a": 0)"},
      {"notbpe.json", R"({"model": {"type": "Unigram", "vocab": []}})"},
      {"badid.json",
       R"({"model": {"type": "BPE", "vocab": {"a": -4}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})"},
      {"hugeid.json",
       R"({"model": {"type": "BPE", "vocab": {"a": 99999999999}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})"},
      {"mergeoov.json",
       R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}, "pre_tokenizer": {"type": "ByteLevel"}})"},
      {"mergepair.json",
       R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", 7]]}, "pre_tokenizer": {"type": "ByteLevel"}})"},
      {"badutf8.json",
       "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xC3\x28\": 0}, \"merges\": []}}"},
      {"badregex.json",
       R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}}})"},
      {"wrongtype.json",
       R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "byte_fallback": "yes"}, "added_tokens": [{"id": 1, "content": "<s>", "special": "yes"}], "pre_tokenizer": {"type": "ByteLevel"}})"},
      {"sparse.json",
       R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 9000000}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})"},
  };
  for (const auto& c : cases) {
    const fs::path p = tmpFile(c.name, c.json);
    expectFormatError([&] { ll::rt::makeTokenizer(ll::rt::vocabFromTokenizerJson(p)); }, p, c.name);
    fs::remove(p);
  }
}

LL_TEST(customSplitRegexJson) {
  // An HF Split regex (llama3 style with (?i:...) and \p{L}) runs through PCRE2 UTF+UCP.
  const std::string json =
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "'": 4, "S": 5, "'S": 6},
    "merges": ["a b", "' S"]},
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "(?i:'s|'t)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\s+"}, "behavior": "Isolated"},
      {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}})";
  const fs::path p = tmpFile("split.json", json);
  const auto tok = ll::rt::makeTokenizer(ll::rt::vocabFromTokenizerJson(p));
  fs::remove(p);
  const auto e = tok->encode("ab'S ab", 0, false);
  QCOMPARE(showIds(e.ids), std::string("[2 6 3 2]"));
  QVERIFY(checkSpans("ab'S ab", e, true).empty());
}

LL_TEST(byteLevelAddPrefixSpace) {
  const std::string json =
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "Ġ": 2, "Ġa": 3, "<x>": 4},
    "merges": ["Ġ a"]}, "added_tokens": [{"id": 4, "content": "<x>", "special": true}],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}})";
  const fs::path p = tmpFile("prefix.json", json);
  const auto tok = ll::rt::makeTokenizer(ll::rt::vocabFromTokenizerJson(p));
  fs::remove(p);
  // Each piece of text (also after a special token) gets the space; one already there stays.
  const auto e = tok->encode("ab<x>a a", 0, true);
  QCOMPARE(showIds(e.ids), std::string("[3 1 4 3 3]"));
  QCOMPARE(e.spans[0], (std::pair<int, int>(0, 1)));
  QCOMPARE(e.spans[3], (std::pair<int, int>(5, 6)));
  QCOMPARE(e.spans[4], (std::pair<int, int>(6, 8)));
}

LL_TEST(nfcNormalizer) {
  // "e" + U+0301 composes to U+00E9 (bytes C3 A9 -> stand-ins "Ã©") before BPE; the token's span
  // is both input characters.
  const std::string json =
      R"({"model": {"type": "BPE", "vocab": {"e": 0, "Ã": 1, "©": 2, "Ã©": 3, "x": 4},
    "merges": ["Ã ©"]}, "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}})";
  const fs::path p = tmpFile("nfc.json", json);
  const auto tok = ll::rt::makeTokenizer(ll::rt::vocabFromTokenizerJson(p));
  fs::remove(p);
  const auto e = tok->encode("xe\xCC\x81x", 0, false);
  QCOMPARE(showIds(e.ids), std::string("[4 3 4]"));
  QCOMPARE(e.spans[1], (std::pair<int, int>(1, 4)));
  QCOMPARE(e.pieces[1], std::string("\xC3\xA9"));
}

LL_TEST(badLlama2c) {
  const fs::path shared = LL_REQUIRE_SHARED();
  const std::string good = readFile(shared / "models/llama2c/tok512.bin");
  QVERIFY(good.size() > 100);
  int errors = 0, loads = 0;
  for (size_t cut = 0; cut < good.size(); cut += 37) {
    const fs::path p = tmpFile("cut.bin", good.substr(0, cut));
    try {
      ll::rt::makeTokenizer(ll::rt::vocabFromLlama2c(p));
      ++loads;  // cut exactly between tokens: a shorter but valid vocabulary
    } catch (const ll::rt::FormatError& e) {
      QVERIFY2(std::string(e.what()).find("cut.bin") != std::string::npos, e.what());
      ++errors;
    }
    fs::remove(p);
  }
  QVERIFY(errors > 100);
  std::string neg = good;
  const int32_t bad = -5;
  std::memcpy(&neg[8], &bad, 4);  // length of token 0
  const fs::path p = tmpFile("neg.bin", neg);
  expectFormatError([&] { ll::rt::vocabFromLlama2c(p); }, p, "negative length");
  fs::remove(p);
}

LL_TEST(badGgufVocab) {
  {
    GgufWriter w;
    w.putString("tokenizer.ggml.model", "gpt2");
    w.putStrings("tokenizer.ggml.tokens", {"a", "b"});
    const fs::path p = tmpFile("nomerges.gguf", w.bytes());
    expectFormatError([&] { ll::rt::vocabFromGguf(*ll::rt::GgufFile::open(p)); }, p, "no merges");
    fs::remove(p);
  }
  {
    GgufWriter w;
    w.putString("tokenizer.ggml.model", "llama");
    w.putStrings("tokenizer.ggml.tokens", {"a", "\xFF\xFE"});
    const fs::path p = tmpFile("badutf8.gguf", w.bytes());
    expectFormatError([&] { ll::rt::vocabFromGguf(*ll::rt::GgufFile::open(p)); }, p,
                      "invalid UTF-8");
    fs::remove(p);
  }
  {
    GgufWriter w;
    w.putString("tokenizer.ggml.model", "bert");
    w.putStrings("tokenizer.ggml.tokens", {"a"});
    const fs::path p = tmpFile("bert.gguf", w.bytes());
    expectFormatError([&] { ll::rt::vocabFromGguf(*ll::rt::GgufFile::open(p)); }, p,
                      "unknown model");
    fs::remove(p);
  }
  {
    GgufWriter w;
    w.putString("tokenizer.ggml.model", "gpt2");
    w.putString("tokenizer.ggml.pre", "no-such-pre");
    w.putStrings("tokenizer.ggml.tokens", {"a", "b", "ab"});
    w.putStrings("tokenizer.ggml.merges", {"a b", "zz q", "nospace"});
    const fs::path p = tmpFile("pre.gguf", w.bytes());
    const auto v = ll::rt::vocabFromGguf(*ll::rt::GgufFile::open(p));
    fs::remove(p);
    bool threw = false;
    try {
      ll::rt::makeTokenizer(v);
    } catch (const std::runtime_error& e) {
      threw = std::string(e.what()).find("no-such-pre") != std::string::npos;
    }
    QVERIFY(threw);
    auto ok = v;
    ok.pre = "gpt-2";
    const auto tok = ll::rt::makeTokenizer(ok);  // merges of unknown strings are simply unused
    QCOMPARE(showIds(tok->encode("ab", 0, false).ids), std::string("[2]"));
  }
}

LL_TEST(randomVocabsNeverCrash) {
  // Small random vocabularies (odd types, ids out of range, merges of non-tokens, tokens that
  // look like byte or special tokens) must build and tokenize random text without crashing.
  std::mt19937 rng(7);
  const char* const pres[] = {"gpt-2",  "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder",
                              "falcon", "starcoder", "mpt",   "refact",       ""};
  const char* const atoms[] = {"a",      "b", " ",  "▁",  "Ġ", "<s>",           "<0x41>",
                               "<0xE2>", "é", "ab", "\n", "Ċ", "<|endoftext|>", "1",
                               "12",     "日"};
  auto pick = [&](auto& arr) { return arr[rng() % std::size(arr)]; };
  for (int iter = 0; iter < 150; ++iter) {
    GgufWriter w;
    const bool spm = iter % 2 == 0;
    w.putString("tokenizer.ggml.model", spm ? "llama" : "gpt2");
    if (!spm) w.putString("tokenizer.ggml.pre", pick(pres));
    std::vector<std::string> toks;
    std::vector<int32_t> types;
    std::vector<float> scores;
    const int n = 1 + int(rng() % 40);
    for (int i = 0; i < n; ++i) {
      std::string t;
      for (int k = 1 + int(rng() % 3); k > 0; --k) t += pick(atoms);
      toks.push_back(t);
      types.push_back(int32_t(rng() % 9) - 1);
      scores.push_back(float(int(rng() % 21) - 10));
    }
    w.putStrings("tokenizer.ggml.tokens", toks);
    w.putInts("tokenizer.ggml.token_type", types);
    w.putFloats("tokenizer.ggml.scores", scores);
    std::vector<std::string> merges;
    for (int i = int(rng() % 30); i > 0; --i)
      merges.push_back(std::string(pick(atoms)) + " " +
                       (rng() % 2 ? toks[rng() % n] : pick(atoms)));
    if (!spm) w.putStrings("tokenizer.ggml.merges", merges);
    w.putU32("tokenizer.ggml.bos_token_id", rng() % 50);
    w.putU32("tokenizer.ggml.eos_token_id", rng() % 50);
    const fs::path p = tmpFile("rand.gguf", w.bytes());
    const auto v = ll::rt::vocabFromGguf(*ll::rt::GgufFile::open(p));
    fs::remove(p);
    const auto tok = ll::rt::makeTokenizer(v);
    for (int t = 0; t < 10; ++t) {
      std::string text;
      for (int k = int(rng() % 12); k > 0; --k)
        text += rng() % 4 ? pick(atoms) : std::string(1, char(rng()));
      const auto e = tok->encode(text, int(rng() % 3) - 1, rng() % 2);
      QVERIFY2(checkSpans(text, e, false).empty(), checkSpans(text, e, false));
      for (int32_t id : e.ids) QVERIFY(id >= 0 && id < tok->vocabSize());
      (void)tok->decode(e.ids);
    }
  }
}

LL_TEST(randomBytesNeverCrash) {
  const fs::path shared = LL_REQUIRE_SHARED();
  std::mt19937 rng(1234);
  for (const char* name : {"llama-spm", "gpt-2", "deepseek-llm", "falcon", "phi-3", "starcoder"}) {
    const auto tok = ggufTok(shared, name);
    for (int iter = 0; iter < 200; ++iter) {
      std::string s(rng() % 64, '\0');
      for (auto& ch : s) ch = char(rng() % 256);
      for (bool special : {false, true}) {
        const auto e = tok->encode(s, -1, special);
        QVERIFY2(checkSpans(s, e, false).empty(),
                 std::string(name) + ": " + checkSpans(s, e, false));
        for (int32_t id : e.ids) QVERIFY(id >= 0 && id < tok->vocabSize());
        (void)tok->decode(e.ids);
      }
    }
    QCOMPARE(tok->decode({-1, 1 << 30}), std::string());
  }
}

LL_TEST(byteLevelRoundTrip) {
  const fs::path shared = LL_REQUIRE_SHARED();
  const char* const pool[] = {
      "a",  "Z", " ",         "  ",       "\n",           "\t",   "3",
      "42", "é", "e\xCC\x81", "日本",     "한",           "🙂", "👨‍👩‍👧",
      "'s", "<", "|",         "\xC2\xA0", "\xE2\x80\x8B", "Ω"};
  std::mt19937 rng(99);
  for (const char* name : {"gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "starcoder", "mpt",
                           "gpt-neox", "refact"}) {
    const auto tok = ggufTok(shared, name);
    for (int iter = 0; iter < 300; ++iter) {
      std::string s;
      for (int k = int(rng() % 24); k > 0; --k) s += pool[rng() % std::size(pool)];
      const auto e = tok->encode(s, 0, false);
      QVERIFY2(tok->decode(e.ids) == s, std::string(name) + " round trip of '" + s + "'");
      QVERIFY2(checkSpans(s, e, true).empty(), std::string(name) + ": " + checkSpans(s, e, true));
    }
  }
}

LL_TEST(longInputsWithoutSpaces) {
  const fs::path shared = LL_REQUIRE_SHARED();
  std::string text;
  while (text.size() < 100 * 1024) text += "Pneumonoultramicroscopicsilicovolcanoconiosis";
  for (const char* name : {"gpt-2", "llama-spm"}) {
    const auto tok = ggufTok(shared, name);
    const auto e = tok->encode(text, 0, false);
    QVERIFY(e.ids.size() > 10000);
    QVERIFY2(checkSpans(text, e, true).empty(), checkSpans(text, e, true));
    const std::string back = tok->decode(e.ids);
    QCOMPARE(back, std::string(name) == std::string("llama-spm") ? " " + text : text);
  }
}

LL_TEST(spmPrefixAndBytes) {
  const fs::path shared = LL_REQUIRE_SHARED();
  const auto tok = ggufTok(shared, "llama-spm");
  // U+E000 is not in the vocabulary: three <0xXX> tokens with the exact byte spans.
  const std::string s = "a\xEE\x80\x80";
  const auto e = tok->encode(s, -1, false);
  QCOMPARE(e.ids.front(), tok->bos());
  QCOMPARE(e.spans.front(), (std::pair<int, int>(0, 0)));
  const size_t n = e.ids.size();
  QVERIFY(n >= 4);
  QCOMPARE(e.spans[n - 3], (std::pair<int, int>(1, 2)));
  QCOMPARE(e.spans[n - 1], (std::pair<int, int>(3, 4)));
  QCOMPARE(e.pieces[n - 1], std::string("\x80"));
  QCOMPARE(tok->decode(e.ids), std::string("<s> a\xEE\x80\x80"));
}

LL_TEST(preTokenizerHugeRuns) {
  // 1 MB runs must split exactly as short ones (no regex engine limit silently cutting them).
  for (const auto& family : {std::string("gpt-2"), std::string("qwen2"), std::string("llama3"),
                             std::string("deepseek-llm"), std::string("falcon")}) {
    ll::rt::PreTokenizer pre(ll::rt::PreTokenizer::regexesFor(family),
                             ll::rt::PreTokenizer::Mode::LlamaCpp);
    const std::string letters(1 << 20, 'x');
    const auto w1 = pre.split(ll::rt::uni::decodeLenient(letters));
    QVERIFY2(w1.size() == 1 && w1[0] == letters.size(), family + ": letters not one word");
    const std::string spaces = std::string(1 << 20, ' ') + "a";
    const auto w2 = pre.split(ll::rt::uni::decodeLenient(spaces));
    QVERIFY2(w2.size() == 2 && w2[0] == (1u << 20) - 1 && w2[1] == 2,
             family + ": spaces before a word split wrongly");
  }
}

LL_TEST_MAIN("tst_tokenizer_robust")
