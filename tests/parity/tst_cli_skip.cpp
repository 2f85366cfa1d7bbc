// `layerlens-cli skip` run as a real process: its JSON has the contract's keys and shapes and the
// values ll::rt::ana::layerSkip gives in this process (stories260K and the MoE fixture, ids as
// given, a chosen position and sublayer); bad ids, an out-of-range position or sublayer and a
// missing --out end with a clear message and a nonzero exit, never a signal. Skips when the CLI
// was not built.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "cli_test.h"
#include "parity_common.h"
#include "runtime/analysis/layer_skip.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ll::rt;
using clitest::cli;
using clitest::joinIds;
using clitest::parkIds;
using clitest::runCli;

bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-5 * std::max(1.0, std::fabs(b));
}

void checkModel(const std::string& file, const std::string& ref, int position,
                const std::string& sublayer) {
  const fs::path model = lltest::sharedDir() / "models" / file;
  const auto ids = parkIds(ref);
  const fs::path out = fs::temp_directory_path() /
                       ("tst_cli_skip_" + std::to_string(getpid()) + "_" + sublayer + ".json");
  int code = 0;
  const std::string msg = runCli("skip " + model.string() + " --ids " + joinIds(ids) +
                                     " --position " + std::to_string(position) + " --sublayer " +
                                     sublayer + " --threads 2 --out " + out.string(),
                                 &code);
  QVERIFY2(code == 0, msg);
  const json j = parity::readJson(out);
  fs::remove(out);

  Session s;
  BackendChoice b;
  b.threads = 2;
  s.load(model, b);
  s.setPromptIds(ids);
  auto tr = s.run();
  const auto r = ana::layerSkip(s, *tr, {position, ana::parseSkipPart(sublayer)});
  const size_t L = size_t(tr->nLayer);
  for (const char* key : {"kl", "kl_mean", "top1_changed", "rel_update", "cos_update", "active"})
    QVERIFY2(j.at(key).is_array() && j.at(key).size() == L, key);
  QCOMPARE(j["position"].get<int>(), position < 0 ? tr->nTokens + position : position);
  QCOMPARE(j["n_tokens"].get<int>(), static_cast<int>(ids.size()));  // no BOS added
  QCOMPARE(j["sublayer"].get<std::string>(), sublayer);
  for (size_t l = 0; l < L; ++l) {
    QVERIFY(near(j["kl"][l].get<double>(), r.kl[l]));
    QVERIFY(near(j["kl_mean"][l].get<double>(), r.klMean[l]));
    QVERIFY(j["top1_changed"][l].is_boolean());
    QCOMPARE(j["top1_changed"][l].get<bool>(), r.top1Changed[l] != 0);
    QVERIFY(near(j["rel_update"][l].get<double>(), r.relUpdate[l]));
    QVERIFY(near(j["cos_update"][l].get<double>(), r.cosUpdate[l]));
  }
  bool anyKl = false;
  for (double v : r.kl) anyKl = anyKl || v > 1e-6;
  QVERIFY(anyKl);
}

}  // namespace

LL_TEST(skipJsonMatchesRuntime) {
  LL_REQUIRE_SHARED();
  checkModel("stories260K.gguf", "stories260K", 4, "layer");
  checkModel("stories260K.gguf", "stories260K", -1, "attn");
  checkModel("stories260K-moe4.gguf", "stories260K-moe4", 6, "mlp");
}

LL_TEST(skipHelpAndBadInput) {
  LL_REQUIRE_SHARED();
  int code = -1;
  const std::string help = runCli("skip --help", &code);
  QCOMPARE(code, 0);
  for (const char* opt : {"--text", "--ids", "--position", "--sublayer", "--out"})
    QVERIFY2(help.find(opt) != std::string::npos, opt);
  const std::string model = (lltest::sharedDir() / "models" / "stories260K.gguf").string();
  const std::string out = (fs::temp_directory_path() / "tst_cli_skip_bad.json").string();
  struct Bad {
    std::string args, says;
  };
  const Bad bad[] = {
      {"--ids 1,x,3 --out " + out, "not a token id"},
      {"--ids 1,99999 --out " + out, "out of range"},
      {"--ids 1,2,3 --position 3 --out " + out, "position 3 is out of range"},
      {"--ids 1,2,3 --position -4 --out " + out, "out of range"},
      {"--ids 1,2,3 --sublayer heads --out " + out, "sublayer"},
      {"--ids 1,2,3", "--out"},
      {"--ids 1,2 --out /nonexistent-dir/x.json", "cannot write"},
  };
  for (const Bad& b : bad) {
    const std::string msg = runCli("skip " + model + " " + b.args, &code);
    QVERIFY2(code > 0, b.args + " -> exit " + std::to_string(code) + "\n" + msg);
    QVERIFY2(msg.find(b.says) != std::string::npos, b.args + ": " + msg);
  }
}

LL_TEST_MAIN("tst_cli_skip")
