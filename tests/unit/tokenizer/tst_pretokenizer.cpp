// Pre-tokenizer families: hand-derived splits per family, and llama.cpp's collapsed-class
// emulation agreeing with real Unicode regex semantics (PCRE2 UCP on the HF originals) for the
// families whose vocabularies are not among the fixtures (llama3, qwen2).
#include "runtime/tokenizer/pretokenizer.h"
#include "runtime/tokenizer/unicode_text.h"
#include "tok_test_util.h"

using namespace toktest;
using ll::rt::PreTokenizer;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> words(const PreTokenizer& pre, const std::string& text) {
  const auto cpts = ll::rt::uni::decodeLenient(text);
  std::vector<std::string> out;
  size_t c = 0;
  for (size_t n : pre.split(cpts)) {
    out.push_back(text.substr(cpts[c].begin, cpts[c + n - 1].end - cpts[c].begin));
    c += n;
  }
  return out;
}

std::string join(const std::vector<std::string>& w) {
  std::string s;
  for (const auto& x : w) s += "[" + x + "]";
  return s;
}

std::string familySplit(const char* family, const std::string& text) {
  PreTokenizer pre(PreTokenizer::regexesFor(family), PreTokenizer::Mode::LlamaCpp);
  return join(words(pre, text));
}

}  // namespace

LL_TEST(handDerivedSplits) {
  QCOMPARE(familySplit("gpt-2", "Hello world's 123!!"),
           std::string("[Hello][ world]['s][ 123][!!]"));
  QCOMPARE(familySplit("gpt-2", "a  b   "), std::string("[a][ ][ b][   ]"));
  QCOMPARE(familySplit("llama-bpe", "1234567 I'M"), std::string("[123][456][7][ I]['M]"));
  QCOMPARE(familySplit("llama-bpe", "x\n\n  y"), std::string("[x][\n\n][ ][ y]"));
  QCOMPARE(familySplit("qwen2", "ab123"), std::string("[ab][1][2][3]"));
  QCOMPARE(familySplit("deepseek-coder", "ab12 cd"), std::string("[ab][1][2][ cd]"));
  QCOMPARE(familySplit("starcoder", "x=42"), std::string("[x][=][4][2]"));
  QCOMPARE(familySplit("falcon", "12345 a.b"), std::string("[123][45][ a][.][b]"));
  QCOMPARE(familySplit("default", "12345+x"), std::string("[123][45][+][x]"));
  QCOMPARE(familySplit("deepseek-llm", "Ab 日本語 12"), std::string("[Ab][ ][日本語][ ][12]"));
  // o200k: case runs split camelCase, contractions stay attached, digits in threes, "/" joins
  // a punctuation run.
  QCOMPARE(familySplit("gpt-4o", "Hello World's HTTPServer camelCase 12345"),
           std::string("[Hello][ World's][ HTTPServer][ camel][Case][ ][123][45]"));
  QCOMPARE(familySplit("gpt-4o", "a+/\nÉcole élan"), std::string("[a][+/\n][École][ élan]"));
  bool threw = false;
  try {
    PreTokenizer::regexesFor("no-such-family");
  } catch (const std::runtime_error&) {
    threw = true;
  }
  QVERIFY(threw);
}

LL_TEST(collapsedMatchesUnicodeRegex) {
  const fs::path shared = LL_REQUIRE_SHARED();
  std::vector<std::string> texts;
  const std::string inp = readFile(shared / "models/vocab/ggml-vocab-llama-bpe.gguf.inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t p = 0;;) {
    const size_t k = inp.find(sep, p);
    if (k == std::string::npos) break;
    texts.push_back(inp.substr(p, k - p));
    p = k + sep.size();
  }
  const auto ref = nlohmann::json::parse(readFile(shared / "reference/tokenizer/gpt-2.json"));
  for (const auto& c : ref["cases"]) texts.push_back(fromHex(c["bytes_hex"].get<std::string>()));
  texts.push_back(
      "a\xC2\xA0 b\xE2\x80\x83 c \xC3\x85x  \xE3\x80\x80y \xCC\x81z \xD9\xA3\xD9\xA4 Ǆx ⅫⅬ 𝔘𝔫 "
      "\r\n\r\n b");
  struct Family {
    const char* name;
    const char* hfRegex;
  };
  const Family families[] = {
      {"llama-bpe",
       "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
       "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
       "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
      {"qwen2",
       "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
       "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
       "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
      {"gpt-2",
       "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"},
  };
  for (const auto& f : families) {
    PreTokenizer llama(PreTokenizer::regexesFor(f.name), PreTokenizer::Mode::LlamaCpp);
    PreTokenizer ucp({f.hfRegex}, PreTokenizer::Mode::Ucp);
    for (const auto& t : texts)
      QVERIFY2(words(llama, t) == words(ucp, t), std::string(f.name) + " on '" + t +
                                                     "': " + join(words(llama, t)) + " vs " +
                                                     join(words(ucp, t)));
  }
}

LL_TEST_MAIN("tst_pretokenizer")
