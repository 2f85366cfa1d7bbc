// `layerlens-cli patch` run as a real process: its .npy files are float32 [n_layer, T] (and
// [n_layer, n_head] for --heads) holding what ll::rt::ana::activationPatching gives in this
// process for the same inputs (ids as given, texts tokenized, each component and direction, noise
// corruption, stories260K and the MoE fixture); bad inputs exit nonzero with a clear message and
// leave no file. Skips when the CLI was not built.
#include <unistd.h>

#include <cmath>

#include "cli_test.h"
#include "npy.h"
#include "parity_common.h"
#include "runtime/analysis/patching.h"
#include "runtime/tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using namespace ll::rt;
using clitest::cli;
using clitest::joinIds;
using clitest::parkIds;
using clitest::runCli;

fs::path tmp(const std::string& name) {
  return fs::temp_directory_path() / ("tst_cli_patch_" + std::to_string(getpid()) + "_" + name);
}

std::unique_ptr<Session> open(const fs::path& model) {
  auto s = std::make_unique<Session>();
  BackendChoice b;
  b.threads = 2;
  s->load(model, b);
  return s;
}

// The file's shape and values against the runtime's (same arithmetic: exact up to the order
// of float rounding in this process vs the CLI's).
void compareNpy(const fs::path& file, const std::vector<float>& want, int64_t rows, int64_t cols) {
  const lltest::NpyArray a = lltest::readNpy(file);
  QVERIFY2(a.dtype == "<f4" && a.shape == std::vector<int64_t>({rows, cols}), file.string());
  QCOMPARE(a.f32.size(), want.size());
  double maxDiff = 0;
  for (size_t i = 0; i < want.size(); ++i)
    maxDiff = std::max(maxDiff, std::fabs(double(a.f32[i]) - want[i]));
  QVERIFY2(maxDiff < 1e-5, file.string() + ": max diff " + std::to_string(maxDiff));
}

void checkIds(const std::string& file, const std::string& ref, const std::string& extra,
              const ana::PatchingRequest& rq) {
  const fs::path model = lltest::sharedDir() / "models" / file;
  const auto clean = parkIds(ref);
  auto corrupt = clean;
  corrupt[4] = clean[14];
  const fs::path out = tmp("effect.npy"), heads = tmp("heads.npy");
  int code = 0;
  const std::string msg =
      runCli("patch " + model.string() + " --clean-ids " + joinIds(clean) + " --corrupt-ids " +
                 joinIds(corrupt) + " " + extra + " --threads 2 --out " + out.string() +
                 " --heads " + heads.string(),
             &code);
  QVERIFY2(code == 0, msg);
  auto s = open(model);
  const ana::PatchingResult r = ana::activationPatching(*s, clean, corrupt, rq);
  QCOMPARE(r.nTokens, static_cast<int>(clean.size()));  // no BOS added to ids
  compareNpy(out, r.effect, r.nLayer, r.nTokens);
  compareNpy(heads, r.headEffect, r.nLayer, r.nHead);
  QVERIFY2(msg.find("\"target\": " + std::to_string(r.request.target)) != std::string::npos, msg);
  fs::remove(out);
  fs::remove(heads);
}

}  // namespace

LL_TEST(patchNpyMatchesRuntime) {
  LL_REQUIRE_SHARED();
  ana::PatchingRequest rq;
  checkIds("stories260K.gguf", "stories260K", "", rq);
  rq.component = ana::PatchComponent::Mlp;
  rq.metric = ana::PatchMetric::Prob;
  rq.direction = ana::PatchDirection::Noise;
  checkIds("stories260K.gguf", "stories260K", "--component mlp --metric prob --direction noise",
           rq);
  ana::PatchingRequest moe;
  moe.component = ana::PatchComponent::Attn;
  moe.target = 300;
  moe.other = 301;
  checkIds("stories260K-moe4.gguf", "stories260K-moe4", "--component attn --target 300 --other 301",
           moe);
}

// Texts are tokenized with the model's BOS handling; --noise corrupts a span of the clean prompt.
LL_TEST(patchTextAndNoise) {
  LL_REQUIRE_SHARED();
  const fs::path model = lltest::sharedDir() / "models" / "stories260K.gguf";
  const fs::path out = tmp("text.npy");
  auto s = open(model);
  const std::string cleanText = "Lily went to the park";
  const auto c = s->model().tokenizer->encode(cleanText, -1).ids;
  // A corrupted text of the same token count (the fixture's vocabulary decides which) and one of
  // another count.
  std::string same, other;
  for (const char* w : {"shop", "lake", "farm", "pond", "yard", "town", "zoo", "hill", "sea"}) {
    const std::string t = "Lily went to the " + std::string(w);
    const size_t n = s->model().tokenizer->encode(t, -1).ids.size();
    if (n == c.size() && same.empty()) same = t;
    if (n != c.size() && other.empty()) other = t;
  }
  QVERIFY(!same.empty() && !other.empty());
  int code = 0;
  std::string msg = runCli("patch " + model.string() + " --clean \"" + cleanText +
                               "\" --corrupt \"" + same + "\" --threads 2 --out " + out.string(),
                           &code);
  QVERIFY2(code == 0, msg);
  const auto r = s->model().tokenizer->encode(same, -1).ids;
  compareNpy(out, ana::activationPatching(*s, c, r, {}).effect, s->model().spec.nLayer,
             static_cast<int64_t>(c.size()));
  fs::remove(out);
  msg = runCli("patch " + model.string() + " --clean \"" + cleanText + "\" --corrupt \"" + other +
                   "\" --threads 2 --out " + out.string(),
               &code);
  QVERIFY2(code > 0 && msg.find("same length") != std::string::npos, msg);
  QVERIFY(!fs::exists(out));
  const auto clean = parkIds("stories260K");
  msg = runCli("patch " + model.string() + " --clean-ids " + joinIds(clean) +
                   " --noise 2:5 --threads 2 --out " + out.string(),
               &code);
  QVERIFY2(code == 0, msg);
  ana::PatchingRequest rq;
  rq.noiseBegin = 2;
  rq.noiseEnd = 5;
  rq.heads = false;
  const auto n = ana::activationPatching(*s, clean, {}, rq);
  compareNpy(out, n.effect, n.nLayer, n.nTokens);
  fs::remove(out);
}

LL_TEST(patchHelpAndBadInput) {
  LL_REQUIRE_SHARED();
  int code = -1;
  const std::string help = runCli("patch --help", &code);
  QCOMPARE(code, 0);
  for (const char* opt :
       {"--clean", "--clean-ids", "--corrupt", "--corrupt-ids", "--target", "--other", "--metric",
        "--component", "--direction", "--out", "--heads", "--noise"})
    QVERIFY2(help.find(opt) != std::string::npos, opt);
  const std::string model = (lltest::sharedDir() / "models" / "stories260K.gguf").string();
  const fs::path out = tmp("bad.npy");
  const std::string o = " --out " + out.string();
  struct Bad {
    std::string args, says;
  };
  const Bad bad[] = {
      {"--clean-ids 1,2,3 --corrupt-ids 1,2" + o, "same length"},
      {"--clean-ids 1,2,3 --corrupt-ids 1,2,3" + o, "same tokens"},
      {"--clean-ids 1,x,3 --corrupt-ids 1,2,3" + o, "not a token id"},
      {"--clean-ids 1,99999,3 --corrupt-ids 1,2,3" + o, "out of range"},
      {"--clean-ids 1,2,3 --corrupt-ids 1,5,3 --target 99999" + o, "out of range"},
      {"--clean-ids 1,2,3 --corrupt-ids 1,5,3 --target 7 --other 7" + o, "same token"},
      {"--clean-ids 1,2,3 --corrupt-ids 1,5,3 --component heads" + o, "component"},
      {"--clean-ids 1,2,3 --corrupt-ids 1,5,3 --metric kl" + o, "metric"},
      {"--clean-ids 1,2,3" + o, "corruption"},
      {"--clean-ids 1,2,3 --corrupt-ids 1,5,3 --noise 0:1" + o, "one corruption"},
      {"--clean-ids 1,2,3 --noise 2:9" + o, "noise span"},
      {"--clean-ids 1,2,3 --noise 2-3" + o, "not a span"},
      {"--corrupt-ids 1,2,3" + o, "--clean"},
      {"--clean-ids 1,2,3 --corrupt-ids 1,5,3", "--out"},
      {"--clean-ids 1,2,3 --corrupt-ids 1,5,3 --out /nonexistent-dir/x.npy", "cannot write"},
  };
  for (const Bad& b : bad) {
    const std::string msg = runCli("patch " + model + " " + b.args, &code);
    QVERIFY2(code > 0, b.args + " -> exit " + std::to_string(code) + "\n" + msg);
    QVERIFY2(msg.find(b.says) != std::string::npos, b.args + ": " + msg);
    QVERIFY2(!fs::exists(out), b.args + " left " + out.string());
  }
}

LL_TEST_MAIN("tst_cli_patch")
