// `layerlens-cli compare` run as a real process: its JSON holds what ll::rt::ana::compareModels
// gives in this process (stories260K vs stories260K-moe4, --ids as given and --text, thresholds);
// --help names the options; models with different vocabularies, bad ids and a missing --out end
// with a clear message and a nonzero exit and leave no file. Skips when the CLI was not built.
#include <unistd.h>

#include <cmath>

#include "cli_test.h"
#include "parity_common.h"
#include "runtime/analysis/teacher.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ll::rt;
using clitest::cli;
using clitest::runCli;

std::string model(const char* file) {
  return (lltest::sharedDir() / "models" / file).string();
}

fs::path tmp(const std::string& name) {
  return fs::temp_directory_path() / ("tst_cli_compare_" + std::to_string(getpid()) + "_" + name);
}

std::unique_ptr<Session> open(const char* file) {
  auto s = std::make_unique<Session>();
  BackendChoice b;
  b.threads = 2;
  s->load(model(file), b);
  return s;
}

// The CLI's document for `args` against compareModels on the same ids and thresholds.
void check(const std::string& args, const ana::TeacherRequest& rq, bool byText) {
  const fs::path out = tmp("out.json");
  int code = 0;
  const std::string msg =
      runCli("compare " + model("stories260K.gguf") + " " + model("stories260K-moe4.gguf") + " " +
                 args + " --threads 2 --out " + out.string(),
             &code);
  QVERIFY2(code == 0, msg);
  const json j = parity::readJson(out);
  fs::remove(out);
  auto student = open("stories260K.gguf");
  auto teacher = open("stories260K-moe4.gguf");
  if (byText)
    student->setPrompt("Once upon a time");
  else
    student->setPromptIds({1, 403, 407, 261, 378});
  const auto c = ana::compareModels(*student, *teacher, rq);
  QCOMPARE(j["ids"].get<std::vector<int32_t>>(), student->promptIds());
  const size_t T = student->promptIds().size();
  QCOMPARE(j["jsd_bits"].size(), T);
  for (size_t t = 0; t < T; ++t) {
    QVERIFY(std::fabs(j["jsd_bits"][t].get<double>() - c.jsdBits[t]) < 1e-6);
    QVERIFY(std::fabs(j["entropy_norm"][t].get<double>() - c.normalized[t]) < 1e-6);
    QCOMPARE(j["quadrant"][t].get<std::string>(), ana::quadrantName(c.quadrant[t]));
  }
  QVERIFY(std::fabs(j["jsd_threshold"].get<double>() - c.jsdThreshold) < 1e-7);
  QVERIFY(std::fabs(j["entropy_threshold"].get<double>() - c.entropyThreshold) < 1e-7);
}

}  // namespace

LL_TEST(compareJsonMatchesRuntime) {
  LL_REQUIRE_SHARED();
  check("--ids 1,403,407,261,378", {}, false);
  check("--text 'Once upon a time' --entropy-threshold 0.3 --jsd-threshold 0.001", {0.3f, 0.001f},
        true);
}

LL_TEST(compareHelpAndBadInput) {
  LL_REQUIRE_SHARED();
  int code = -1;
  const std::string help = runCli("compare --help", &code);
  QCOMPARE(code, 0);
  for (const char* opt :
       {"teacher", "--text", "--ids", "--entropy-threshold", "--jsd-threshold", "--out"})
    QVERIFY2(help.find(opt) != std::string::npos, opt);
  const std::string out = tmp("bad.json").string();
  const std::string pair = model("stories260K.gguf") + " " + model("stories260K-moe4.gguf");
  struct Bad {
    std::string args, says;
  };
  const Bad bad[] = {
      {model("stories260K.gguf") + " " + model("gpt2-tiny-f16.gguf") + " --ids 1,2 --out " + out,
       "do not share a vocabulary"},
      {pair + " --ids 1,x --out " + out, "not a token id"},
      {pair + " --ids 1,99999 --out " + out, "out of range"},
      {pair + " --ids 1,2", "--out"},
      {pair + " --out " + out, "--text or --ids"},
      {model("stories260K.gguf") + " /nonexistent.gguf --ids 1,2 --out " + out, "nonexistent"},
  };
  for (const Bad& b : bad) {
    const std::string msg = runCli("compare " + b.args, &code);
    QVERIFY2(code > 0, b.args + " -> exit " + std::to_string(code) + "\n" + msg);
    QVERIFY2(msg.find(b.says) != std::string::npos, b.args + ": " + msg);
    QVERIFY2(!fs::exists(out), b.args);
  }
}

LL_TEST_MAIN("tst_cli_compare")
