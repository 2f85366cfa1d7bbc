// `layerlens-cli contrast` run as a real process: prompts from a file and as literal text, its
// JSON has delta [n_layer][n_expert] and the picked experts with the values ll::rt::ana::
// expertContrast gives in this process; --help names the options; a dense model, a missing set,
// a bad --layers and an unwritable --out end with a clear message and a nonzero exit, no file.
// Skips when the CLI was not built.
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "cli_test.h"
#include "parity_common.h"
#include "runtime/analysis/expert_contrast.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ll::rt;
using clitest::cli;
using clitest::runCli;

fs::path tmp(const std::string& name) {
  return fs::temp_directory_path() / ("tst_cli_contrast_" + std::to_string(getpid()) + "_" + name);
}

}  // namespace

LL_TEST(contrastJsonMatchesRuntime) {
  LL_REQUIRE_SHARED();
  const fs::path model = lltest::sharedDir() / "models" / "stories260K-moe4.gguf";
  const std::vector<std::string> task = {"Once upon a time there was a little girl.",
                                         "She played in the park with her dog."};
  const std::string neutral = "The sun was hot and the sky was blue";
  const fs::path taskFile = tmp("task.txt"), out = tmp("out.json");
  {
    std::ofstream f(taskFile);
    f << task[0] << "\n\n" << task[1] << "\r\n";
  }
  int code = 0;
  const std::string msg =
      runCli("contrast " + model.string() + " --task " + taskFile.string() + " --neutral '" +
                 neutral + "' --tau 0.05 --layers middle --threads 2 --out " + out.string(),
             &code);
  QVERIFY2(code == 0, msg);
  const json j = parity::readJson(out);
  fs::remove(out);
  fs::remove(taskFile);

  Session s;
  BackendChoice b;
  b.threads = 2;
  s.load(model, b);
  ana::ExpertContrastRequest rq;
  rq.task = task;
  rq.neutral = {neutral};
  rq.tau = 0.05f;
  rq.layers = ana::ContrastLayers::Middle;
  const auto r = ana::expertContrast(s, rq);
  QCOMPARE(j["n_task"].get<int>(), 2);
  QCOMPARE(j["n_neutral"].get<int>(), 1);
  QCOMPARE(j["layers"].get<std::string>(), std::string("middle"));
  QCOMPARE(j["delta"].size(), size_t(r.nLayer));
  for (int l = 0; l < r.nLayer; ++l) {
    QCOMPARE(j["delta"][l].size(), size_t(r.nExpert));
    for (int e = 0; e < r.nExpert; ++e)
      QVERIFY(std::fabs(j["delta"][l][e].get<double>() - r.at(l, e)) < 1e-6);
  }
  QCOMPARE(j["picked"].size(), r.picked.size());
  QVERIFY(!r.picked.empty());
  for (size_t i = 0; i < r.picked.size(); ++i) {
    QCOMPARE(j["picked"][i]["layer"].get<int>(), r.picked[i].first);
    QCOMPARE(j["picked"][i]["expert"].get<int>(), r.picked[i].second);
  }
  QCOMPARE(j["edits"]["switch_off"].size(), r.picked.size());
}

// `routing --task --neutral` picks with the same expert contrast (middle layers by default).
LL_TEST(routingPickerIsTheContrast) {
  LL_REQUIRE_SHARED();
  const fs::path model = lltest::sharedDir() / "models" / "stories260K-moe4.gguf";
  const fs::path task = tmp("rtask.txt"), neutral = tmp("rneutral.txt");
  {
    std::ofstream(task) << "Once upon a time there was a little girl.\nShe played in the park.\n";
    std::ofstream(neutral) << "The sun was hot and the sky was blue\n";
  }
  for (const bool all : {false, true}) {
    int code = 0;
    const std::string out = runCli("routing " + model.string() + " --text 'Lily ran' --task " +
                                       task.string() + " --neutral " + neutral.string() +
                                       " --tau 0.02 --threads 2" + (all ? " --all-layers" : ""),
                                   &code);
    QVERIFY2(code == 0, out);
    const json j = json::parse(out);
    Session s;
    BackendChoice b;
    b.threads = 2;
    s.load(model, b);
    ana::ExpertContrastRequest rq;
    rq.task = {"Once upon a time there was a little girl.", "She played in the park."};
    rq.neutral = {"The sun was hot and the sky was blue"};
    rq.tau = 0.02f;
    rq.layers = all ? ana::ContrastLayers::All : ana::ContrastLayers::Middle;
    const auto r = ana::expertContrast(s, rq);
    QVERIFY(!r.picked.empty());
    QCOMPARE(j["picker"]["experts"].size(), r.picked.size());
    for (size_t i = 0; i < r.picked.size(); ++i) {
      QCOMPARE(j["picker"]["experts"][i]["layer"].get<int>(), r.picked[i].first);
      QCOMPARE(j["picker"]["experts"][i]["expert"].get<int>(), r.picked[i].second);
    }
    QVERIFY(j["picker"]["layers"].get<std::vector<int>>() == r.pickLayers);
  }
  fs::remove(task);
  fs::remove(neutral);
}

LL_TEST(contrastHelpAndBadInput) {
  LL_REQUIRE_SHARED();
  int code = -1;
  const std::string help = runCli("contrast --help", &code);
  QCOMPARE(code, 0);
  for (const char* opt : {"--task", "--neutral", "--tau", "--layers", "--lambda", "--out"})
    QVERIFY2(help.find(opt) != std::string::npos, opt);
  const std::string moe = (lltest::sharedDir() / "models" / "stories260K-moe4.gguf").string();
  const std::string dense = (lltest::sharedDir() / "models" / "stories260K.gguf").string();
  const std::string out = tmp("bad.json").string();
  struct Bad {
    std::string args, says;
  };
  const Bad bad[] = {
      {dense + " --task 'a dog' --neutral 'a cat' --out " + out, "no experts"},
      {moe + " --task 'a dog' --out " + out, "--neutral"},
      {moe + " --task 'a dog' --neutral '  ' --out " + out, "neutral set has no prompts"},
      {moe + " --task 'a dog' --neutral 'a cat' --layers first --out " + out, "--layers"},
      {moe + " --task 'a dog' --neutral 'a cat' --tau x --out " + out, "--tau"},
      {moe + " --task 'a dog' --neutral 'a cat'", "--out"},
      {moe + " --task 'a dog' --neutral 'a cat' --out /nonexistent-dir/x.json", "cannot write"},
  };
  for (const Bad& b : bad) {
    const std::string msg = runCli("contrast " + b.args, &code);
    QVERIFY2(code > 0, b.args + " -> exit " + std::to_string(code) + "\n" + msg);
    QVERIFY2(msg.find(b.says) != std::string::npos, b.args + " -> " + msg);
    QVERIFY2(!fs::exists(out), b.args + " left a file");
  }
}

LL_TEST_MAIN("tst_cli_contrast")
