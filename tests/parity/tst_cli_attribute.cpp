// `layerlens-cli attribute` run as a real process on stories260K and gpt2-tiny: the JSON has the
// contract's shapes, its terms sum to its logit, and the logit is the one an in-process run of the
// same ids gives; bad ids, tokens outside the vocabulary and positions out of range exit nonzero
// with a message, never a crash. Skips when the CLI was not built.
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "cli_process.h"
#include "parity_common.h"

namespace {

using clitest::cliPath;
using clitest::runCapture;

const char* kIds = "1,30,45,100,7,12,60,5";

std::filesystem::path outFile() {
  return std::filesystem::temp_directory_path() /
         ("ll_cli_attribute_" + std::to_string(getpid()) + ".json");
}

std::string attribute(const std::filesystem::path& model, const std::string& args, int* rc) {
  return runCapture(
      cliPath().string() + " attribute " + model.string() + " --threads 2 " + args + " 2>&1", rc);
}

double sum(const nlohmann::json& a) {
  double s = 0;
  for (const auto& v : a) s += v.get<double>();
  return s;
}

}  // namespace

LL_TEST(attributeWritesTheContractJson) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  if (cliPath().empty()) QSKIP("layerlens-cli not built next to the tests");
  struct Case {
    const char* file;
    int target, other, position;
  };
  for (const Case c : {Case{"stories260K.gguf", 20, -1, -1}, Case{"stories260K.gguf", 20, 40, 3},
                       Case{"gpt2-tiny-f16.gguf", 11, 4, -1}}) {
    const auto model = shared / "models" / c.file;
    const auto out = outFile();
    std::string args = std::string("--ids ") + kIds + " --target " + std::to_string(c.target) +
                       " --out " + out.string();
    if (c.other >= 0) args += " --other " + std::to_string(c.other);
    if (c.position >= 0) args += " --position " + std::to_string(c.position);
    int rc = -1;
    const std::string log = attribute(model, args, &rc);
    QVERIFY2(rc == 0, log);
    const auto j = parity::readJson(out);
    std::filesystem::remove(out);
    ll::rt::Session s;
    s.load(model, ll::rt::parseBackend("cpu", 2));
    const auto& sp = s.model().spec;
    QCOMPARE(int(j["attn"].size()), sp.nLayer);
    QCOMPARE(int(j["mlp"].size()), sp.nLayer);
    QCOMPARE(int(j["heads"].size()), sp.nLayer);
    for (const auto& row : j["heads"]) QCOMPARE(int(row.size()), sp.nHead);
    const double total =
        j["embed"].get<double>() + sum(j["attn"]) + sum(j["mlp"]) + j["bias"].get<double>();
    const double logit = j["logit"].get<double>();
    QVERIFY2(std::fabs(total - logit) <= 1e-4 * std::max(1.0, std::fabs(logit)),
             std::to_string(total) + " vs " + std::to_string(logit));
    // The model's own logit for the same ids, no BOS added.
    s.setPromptIds({1, 30, 45, 100, 7, 12, 60, 5});
    auto tr = s.run();
    const int P = c.position >= 0 ? c.position : tr->nTokens - 1;
    QCOMPARE(j["position"].get<int>(), P);
    const float* lg = tr->logitsRow(P);
    const double want = double(lg[c.target]) - (c.other >= 0 ? double(lg[c.other]) : 0.0);
    QVERIFY2(std::fabs(logit - want) <= 1e-4 * std::max(1.0, std::fabs(want)),
             std::to_string(logit) + " vs the model's " + std::to_string(want));
  }
}

LL_TEST(attributeRejectsBadInput) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  if (cliPath().empty()) QSKIP("layerlens-cli not built next to the tests");
  const auto model = shared / "models/stories260K.gguf";
  const std::string out = " --out " + outFile().string();
  struct Bad {
    std::string args, says;
  };
  const Bad cases[] = {
      {"--ids 1,x,3 --target 5", "not a token id"},
      {"--ids 1,2,99999 --target 5", "out of range"},
      {std::string("--ids ") + kIds + " --target 99999", "outside the vocabulary"},
      {std::string("--ids ") + kIds + " --target 5 --other -7", "outside the vocabulary"},
      {std::string("--ids ") + kIds + " --target 5 --position 8", "out of range"},
      {std::string("--ids ") + kIds + " --target 5 --position -3", "out of range"},
      {"--ids 1,2 --out /nonexistent-dir/x.json --target 5", "cannot write"},
  };
  for (const Bad& b : cases) {
    int rc = -1;
    const std::string log = attribute(model, b.args + (b.says == "cannot write" ? "" : out), &rc);
    QVERIFY2(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, b.args + ": " + log);
    QVERIFY2(log.find(b.says) != std::string::npos, b.args + ": " + log);
  }
  int rc = -1;
  const std::string help = runCapture(cliPath().string() + " attribute --help 2>&1", &rc);
  QVERIFY2(rc == 0 && help.find("--target") != std::string::npos, help);
  std::filesystem::remove(outFile());
}

LL_TEST_MAIN("tst_cli_attribute")
