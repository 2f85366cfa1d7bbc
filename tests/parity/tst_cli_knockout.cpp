// `layerlens-cli knockout --sweep` run as a real process: the effect and the layer sweep (the same
// knockout in the window centred on each layer) are what ll::rt::ana::attentionKnockout gives in
// this process for each window; without --sweep the JSON has no sweep; --help names the flag.
// Skips when the CLI was not built.
#include <cmath>

#include "cli_process.h"
#include "parity_common.h"
#include "runtime/analysis/knockout.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ll::rt;

std::string runCli(const std::string& args, int* code) {
  const auto p = clitest::cliPath();
  if (p.empty()) throw lltest::Skip{"layerlens-cli not built next to the tests"};
  return clitest::runMerged(p, args, code);
}

// Percent changes: a row the engine reuses and one computed in a batch round differently in the
// last bits (1e-3 points = 1e-5 of p).
bool nearPct(double a, double b) {
  return std::fabs(a - b) <= 1e-3 + 1e-5 * std::fabs(b);
}

}  // namespace

LL_TEST(sweepMatchesAttentionKnockout) {
  LL_REQUIRE_SHARED();
  for (const char* ref : {"stories260K", "stories260K-moe4"}) {
    const fs::path model = lltest::sharedDir() / "models" / (std::string(ref) + ".gguf");
    const auto ids =
        parity::readJson(lltest::sharedDir() / "reference" / ref / "park" / "tokens.json")["ids"]
            .get<std::vector<int32_t>>();
    std::string idList;
    for (int32_t v : ids) idList += (idList.empty() ? "" : ",") + std::to_string(v);
    int code = 0;
    const std::string out = runCli("knockout " + model.string() + " --ids " + idList +
                                       " --layer 2 --window 3 --sweep --threads 2",
                                   &code);
    QVERIFY2(code == 0, out);
    const json j = json::parse(out);
    Session s;
    BackendChoice b;
    b.threads = 2;
    s.load(model, b);
    s.setPromptIds(ids);
    const int T = static_cast<int>(ids.size()), L = s.model().spec.nLayer;
    const auto from = ana::parseSpan("last", T), to = ana::parseSpan("all-but-last", T);
    const auto want = ana::attentionKnockout(s, from, to, 2, 3);
    QVERIFY(nearPct(j["relative_change_percent"].get<double>(), want.relativeChange));
    QCOMPARE(j["window"].get<int>(), 3);
    QCOMPARE(j["sweep"].size(), size_t(L));
    double spread = 0;
    for (int l = 0; l < L; ++l) {
      const auto w = ana::attentionKnockout(s, from, to, l, 3);
      QVERIFY(nearPct(j["sweep"][l].get<double>(), w.relativeChange));
      QCOMPARE(j["sweep_layers"][l][0].get<int>(), w.layerBegin);
      QCOMPARE(j["sweep_layers"][l][1].get<int>(), w.layerEnd);
      spread = std::max(spread, std::fabs(w.relativeChange - want.relativeChange));
    }
    QVERIFY(spread > 1e-3);  // the windows differ in effect: a real curve
    const json plain =
        json::parse(runCli("knockout " + model.string() + " --ids " + idList, &code));
    QVERIFY(!plain.contains("sweep"));
  }
  int code = -1;
  const std::string help = runCli("knockout --help", &code);
  QCOMPARE(code, 0);
  QVERIFY(help.find("--sweep") != std::string::npos);
}

LL_TEST_MAIN("tst_cli_knockout")
