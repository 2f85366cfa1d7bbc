// Token-selection exports: JSON and CSV round trips (awkward pieces included), records built from a
// real trace of the demo model, the SHA-256 prompt hash against known vectors, and bad input.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lltest.h"
#include "runtime/api/selection_export.h"
#include "runtime/api/session.h"
#include "runtime/demo/demo_model.h"

namespace fs = std::filesystem;
using namespace ll::rt;

namespace {

fs::path tempDir() {
  static const fs::path d = [] {
    const fs::path p = fs::temp_directory_path() / ("ll_selexp_" + std::to_string(getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
  }();
  return d;
}

SelectionRecord awkwardRecord() {
  SelectionRecord r;
  r.method = "snapkv";
  r.params = {{"capacity", "16"}, {"window", "4"}, {"kernel", "5"}, {"pooling", "max"}};
  r.model = "x.gguf";
  r.promptHash = "0123456789ab";
  r.prompt = std::string("say \"hi\",\nthen: # go\t\x01 \xe2\x96\x81");
  const std::vector<std::string> pieces = {
      "<s>", "a,b", "\"q\"", "line\nbreak", "\r\n", std::string("\xff", 1), "", "\xe2\x96\x81the"};
  for (size_t i = 0; i < pieces.size(); ++i)
    r.tokens.push_back({int(i), int32_t(100 + i), pieces[i], int(i) - 1, int(i),
                        float(i) * 0.1f - 0.3f + 1e-8f, i % 3 == 0});
  r.tokens[2].score = 3.4028235e38f;
  return r;
}

}  // namespace

LL_TEST(sha256KnownVectors) {
  QCOMPARE(sha256Hex(""),
           std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  QCOMPARE(sha256Hex("abc"),
           std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  QCOMPARE(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
           std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  QCOMPARE(promptHash("abc"), std::string("ba7816bf8f01"));
}

LL_TEST(jsonRoundTrip) {
  const SelectionRecord r = awkwardRecord();
  const fs::path p = tempDir() / "sel.json";
  writeSelectionJson(p, r);
  QVERIFY(readSelectionJson(p) == r);
}

LL_TEST(csvRoundTrip) {
  const SelectionRecord r = awkwardRecord();
  const fs::path p = tempDir() / "sel.csv";
  writeSelectionCsv(p, r);
  QVERIFY(readSelectionCsv(p) == r);
}

// A prompt that is not valid UTF-8 goes as hex in both formats and reads back byte for byte.
LL_TEST(promptBytesRoundTrip) {
  SelectionRecord r = awkwardRecord();
  r.prompt = std::string("a\xff\nb", 4);
  const fs::path j = tempDir() / "p.json", c = tempDir() / "p.csv";
  writeSelectionJson(j, r);
  writeSelectionCsv(c, r);
  QCOMPARE(readSelectionJson(j).prompt, r.prompt);
  QCOMPARE(readSelectionCsv(c).prompt, r.prompt);
}

LL_TEST(recordFromDemoTrace) {
  const fs::path model = tempDir() / "demo.gguf";
  demo::writeDemoModel(model);
  Session s;
  s.load(model, parseBackend("cpu", 1));
  const std::string text = "Tokens, kept and dropped.";
  s.setPrompt(text);
  auto tr = s.run();
  std::vector<float> scores(size_t(tr->nTokens));
  for (int t = 0; t < tr->nTokens; ++t) scores[size_t(t)] = float(t) / 3.0f;
  SelectionRecord r = makeSelectionRecord(*tr, {0, 3, 5}, scores, "h2o", {{"heavy", "2"}});
  r.model = "demo.gguf";
  r.promptHash = promptHash(text);
  QCOMPARE(int(r.tokens.size()), tr->nTokens);
  QVERIFY(r.tokens[3].kept && !r.tokens[4].kept);
  QCOMPARE(r.tokens[4].tokenId, tr->ids[4]);
  QCOMPARE(r.tokens[4].piece, tr->pieces[4]);
  QCOMPARE(r.tokens[4].byteBegin, tr->spans[4].first);
  // Spans index the prompt text: the piece of a character token is that character.
  QCOMPARE(text.substr(size_t(r.tokens[4].byteBegin), 1), r.tokens[4].piece);
  writeSelectionCsv(tempDir() / "h2o.csv", r);
  writeSelectionJson(tempDir() / "h2o.json", r);
  QVERIFY(readSelectionCsv(tempDir() / "h2o.csv") == r);
  QVERIFY(readSelectionJson(tempDir() / "h2o.json") == r);
}

LL_TEST(badInputIsRefusedClearly) {
  const fs::path p = tempDir() / "bad.csv";
  auto err = [](auto fn) -> std::string {
    try {
      fn();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  std::ofstream(p) << "# format: layerlens-selection\nindex,token_id,piece\n1,2,x\n";
  QVERIFY(err([&] { readSelectionCsv(p); }).find("no 'byte_begin' column") != std::string::npos);
  std::ofstream(p) << "# format: layerlens-selection\n"
                      "index,token_id,piece,byte_begin,byte_end,score,kept\n1,2,\"x,3,4,0.5,1\n";
  QVERIFY(err([&] { readSelectionCsv(p); }).find("unterminated") != std::string::npos);
  std::ofstream(p) << "# format: layerlens-selection\n"
                      "index,token_id,piece,byte_begin,byte_end,score,kept\n1,zz,x,3,4,0.5,1\n";
  QVERIFY(err([&] { readSelectionCsv(p); }).find("token_id") != std::string::npos);
  const fs::path j = tempDir() / "bad.json";
  std::ofstream(j) << R"({"format": "layerlens-selection", "version": 9, "method": "x"})";
  QVERIFY(err([&] { readSelectionJson(j); }).find("newer") != std::string::npos);
  std::ofstream(j) << R"({"format": "layerlens-selection", "version": 1, "method": "x",
                          "params": {}, "tokens": [{"index": "one"}]})";
  const std::string e = err([&] { readSelectionJson(j); });
  QVERIFY2(e.find("bad.json") != std::string::npos && e.find("malformed") != std::string::npos, e);
}

LL_TEST_MAIN("tst_selection_export")
