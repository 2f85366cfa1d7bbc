// `layerlens-cli steer-sweep` run as a real process: its JSON holds the values
// ll::rt::ana::steeringSweep gives in this process (stories260K and the MoE fixture, ids as given,
// a .npy vector and a control-vector .gguf, chosen layer, alpha, start, position and alphas);
// --help names the options; bad input ends with a clear message and a nonzero exit and leaves no
// file. Skips when the CLI was not built.
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "cli_test.h"
#include "parity_common.h"
#include "runtime/analysis/control_vector.h"
#include "runtime/analysis/steering.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/api/npy_io.h"

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

fs::path tmp(const std::string& name) {
  return fs::temp_directory_path() /
         ("tst_cli_steer_sweep_" + std::to_string(getpid()) + "_" + name);
}

// A direction from the prompt's own residual stream after `layer` (last token minus token 1).
std::vector<float> direction(Session& s, int layer) {
  auto tr = s.run();
  const float* a = ana::residAfter(*tr, layer, tr->nTokens - 1);
  const float* b = ana::residAfter(*tr, layer, 1);
  std::vector<float> v(size_t(tr->nEmbd));
  for (int i = 0; i < tr->nEmbd; ++i) v[i] = a[i] - b[i];
  return v;
}

void compare(const json& j, const ana::SteeringSweepResult& r) {
  QCOMPARE(j["position"].get<int>(), r.position);
  QCOMPARE(j["layer"].get<int>(), r.layer);
  QCOMPARE(j["from"].get<int>(), r.fromPos);
  QCOMPARE(j["top1_base"].get<int>(), r.top1Base);
  QVERIFY(near(j["entropy_base"].get<double>(), r.entropyBase));
  QCOMPARE(j["alphas"].size(), r.alphas.size());
  for (size_t i = 0; i < r.alphas.size(); ++i) {
    QVERIFY(near(j["alphas"][i].get<double>(), r.alphas[i]));
    QVERIFY(near(j["kl"][i].get<double>(), r.kl[i]));
    QVERIFY(near(j["entropy"][i].get<double>(), r.entropy[i]));
    QCOMPARE(j["top1"][i].get<int>(), r.top1[i]);
  }
  QCOMPARE(j["layer_kl"].size(), r.layerKl.size());
  QCOMPARE(j["push_ratio"].size(), size_t(r.nLayer));
  for (size_t l = 0; l < r.layerKl.size(); ++l) {
    QVERIFY(near(j["layer_kl"][l].get<double>(), r.layerKl[l]));
    QVERIFY(near(j["layer_entropy"][l].get<double>(), r.layerEntropy[l]));
    QCOMPARE(j["layer_top1"][l].get<int>(), r.layerTop1[l]);
  }
  for (int l = 0; l < r.nLayer; ++l)
    QVERIFY(near(j["push_ratio"][l].get<double>(), r.pushRatio[l]));
}

void checkModel(const std::string& file, const std::string& ref, bool gguf) {
  const fs::path model = lltest::sharedDir() / "models" / file;
  const auto ids = parkIds(ref);
  Session s;
  BackendChoice b;
  b.threads = 2;
  s.load(model, b);
  s.setPromptIds(ids);
  ana::SteeringSweepRequest rq;
  rq.layer = 1;
  rq.alpha = -1.5f;
  rq.fromPos = 2;
  rq.position = static_cast<int>(ids.size()) - 3;
  const std::vector<float> v = direction(s, rq.layer);
  const fs::path vec = tmp(gguf ? "v.gguf" : "v.npy"), out = tmp("out.json");
  if (gguf) {
    ana::ControlVector cv;
    cv.modelHint = "llama";
    cv.layerCount = s.model().spec.nLayer;
    cv.layers[rq.layer] = v;
    ana::writeControlVector(vec, cv);
  } else {
    writeNpy(vec, v.data(), {static_cast<int64_t>(v.size())});
  }
  int code = 0;
  const std::string msg =
      runCli("steer-sweep " + model.string() + " --ids " + joinIds(ids) + " --vector " +
                 vec.string() + " --layer 1 --alpha -1.5 --from 2 --position " +
                 std::to_string(rq.position) + " --threads 2 --out " + out.string(),
             &code);
  QVERIFY2(code == 0, msg);
  const json j = parity::readJson(out);
  fs::remove(out);
  QCOMPARE(j["n_tokens"].get<int>(), static_cast<int>(ids.size()));  // no BOS added
  QVERIFY(near(j["alpha"].get<double>(), -1.5));
  auto tr = s.run();
  const auto r = ana::steeringSweep(s, *tr, v, rq);
  compare(j, r);
  bool moved = false;
  for (double kl : r.kl) moved = moved || kl > 1e-4;
  QVERIFY(moved);

  // Given alphas, no layer sweep, the default (last) position.
  const std::string msg2 = runCli(
      "steer-sweep " + model.string() + " --ids " + joinIds(ids) + " --vector " + vec.string() +
          " --layer 1 --alphas 0,0.5,3 --no-layer-sweep --out " + out.string(),
      &code);
  QVERIFY2(code == 0, msg2);
  const json j2 = parity::readJson(out);
  fs::remove(out);
  fs::remove(vec);
  ana::SteeringSweepRequest rq2;
  rq2.layer = 1;
  rq2.alphas = {0.0f, 0.5f, 3.0f};
  rq2.layerSweep = false;
  compare(j2, ana::steeringSweep(s, *tr, v, rq2));
  QVERIFY(j2["layer_kl"].empty());
}

}  // namespace

LL_TEST(sweepJsonMatchesRuntime) {
  LL_REQUIRE_SHARED();
  checkModel("stories260K.gguf", "stories260K", false);
  checkModel("stories260K-moe4.gguf", "stories260K-moe4", true);
}

LL_TEST(sweepHelpAndBadInput) {
  LL_REQUIRE_SHARED();
  int code = -1;
  const std::string help = runCli("steer-sweep --help", &code);
  QCOMPARE(code, 0);
  for (const char* opt : {"--text", "--ids", "--vector", "--layer", "--alpha", "--from",
                          "--position", "--alphas", "--no-layer-sweep", "--out"})
    QVERIFY2(help.find(opt) != std::string::npos, opt);
  const std::string model = (lltest::sharedDir() / "models" / "stories260K.gguf").string();
  const fs::path vec = tmp("bad.npy"), small = tmp("small.npy");
  const std::vector<float> v(64, 0.25f), w(3, 1.0f);
  writeNpy(vec, v.data(), {64});
  writeNpy(small, w.data(), {3});
  const std::string out = tmp("bad.json").string();
  const std::string V = " --vector " + vec.string();
  struct Bad {
    std::string args, says;
  };
  const Bad bad[] = {
      {"--ids 1,x,3" + V + " --out " + out, "not a token id"},
      {"--ids 1,2,3" + V + " --position 3 --out " + out, "position 3 is out of range"},
      {"--ids 1,2,3" + V + " --layer 9 --out " + out, "out of range"},
      {"--ids 1,2,3" + V + " --alphas 1,zz --out " + out, "not a number"},
      {"--ids 1,2,3" + V + " --from -1 --out " + out, "negative"},
      {"--ids 1,2,3 --vector " + small.string() + " --out " + out, "n_embd"},
      {"--ids 1,2,3 --vector /nonexistent.npy --out " + out, "nonexistent"},
      {"--ids 1,2,3" + V, "--out"},
      {"--ids 1,2,3 --out " + out, "--vector"},
      {"--ids 1,2" + V + " --out /nonexistent-dir/x.json", "cannot write"},
  };
  for (const Bad& b : bad) {
    const std::string msg = runCli("steer-sweep " + model + " " + b.args, &code);
    QVERIFY2(code > 0, b.args + " -> exit " + std::to_string(code) + "\n" + msg);
    QVERIFY2(msg.find(b.says) != std::string::npos, b.args + ": " + msg);
    QVERIFY2(!fs::exists(out), b.args);
  }
  fs::remove(vec);
  fs::remove(small);
}

LL_TEST_MAIN("tst_cli_steer_sweep")
