// The CPU backend's fast math (LAYERLENS_CPU_MATH=fast) on the whole engine: logits and
// attention against the shared references on the fixtures whose weights have fast kernels (F16,
// BF16 and every quantized type of the llama-quant set), within the fast mode's own tolerances (the
// measured errors are printed beside precise math's), and the same greedy continuations as precise
// math on stories260K (the file is F32, which fast math leaves alone: it is re-encoded to F16 and
// to Q8_0 here so the bf16 and int8 kernels run); the CLI's --cpu-math. The parity tests stay in
// precise math.
#include <unistd.h>

#include "cli_test.h"
#include "fixture_writer.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/quant.h"
#include "parity_common.h"
#include "runtime/formats/gguf.h"

namespace {

namespace fs = std::filesystem;

// Fast-mode bounds against the references (max |diff|), stated per weight class: bf16 products
// keep 8 significant bits, int8 activations 8 bits per 32-block (llama.cpp's own Q8 activation
// quantization is in the llama.cpp references too). Types with a min (Q4_1, Q5_1, and the _K_M
// mixes' Q4_K/Q5_K; Q2_K) keep unsigned quants, so |d q| runs to twice |w| and the activations'
// rounding error with it (measured 0.18-0.28 logits, 0.021-0.026 attention, against 0.09-0.12 /
// 0.010-0.014 for the types without): their bound is 1.5x the int8 one.
enum class WeightClass { Bf16, Int8, Int8Min };
struct FastTol {
  double logits, attn;
};
FastTol fastTolerance(WeightClass c) {
  switch (c) {
    case WeightClass::Bf16:
      return {0.15, 0.015};
    case WeightClass::Int8:
      return {0.3, 0.04};
    case WeightClass::Int8Min:
      return {0.45, 0.06};
  }
  return {};
}

struct Errors {
  double logits = 0, attn = 0;
};

// Max |diff| of logits and attention maps against the torch64 reference where present, else
// llama.cpp's, over every prompt of the model's reference folder.
Errors measure(const std::string& modelId, const std::string& math) {
  const fs::path shared = lltest::sharedDir();
  const fs::path refDir = shared / "reference" / modelId;
  auto mj = parity::readJson(refDir / "model.json");
  ll::rt::Session s;
  s.load(shared / mj["model_file"].get<std::string>(), {"cpu", 2, math});
  Errors e;
  for (const auto& pj : mj["prompts"]) {
    const fs::path dir = refDir / pj.get<std::string>();
    const fs::path rd = fs::exists(dir / "torch64" / "logits.npy") ? dir / "torch64" : dir;
    s.setPromptIds(parity::readJson(dir / "tokens.json")["ids"].get<std::vector<int32_t>>());
    auto tr = s.run();
    const auto logits = lltest::readNpy(rd / "logits.npy");
    e.logits =
        std::max(e.logits, parity::maxAbsDiff(tr->logits.data(), logits.f32, tr->logits.size()));
    const size_t T = tr->nTokens, H = tr->nHead;
    for (int l = 0; l < tr->nLayer; ++l) {
      const fs::path af = rd / ("attn-" + std::to_string(l) + ".npy");
      if (!fs::exists(af)) continue;
      std::vector<float> attn(H * T * T);
      for (size_t h = 0; h < H; ++h) {
        auto m = s.attentionMap(*tr, l, static_cast<int>(h));
        std::copy(m.begin(), m.end(), attn.begin() + h * T * T);
      }
      e.attn =
          std::max(e.attn, parity::maxAbsDiff(attn.data(), lltest::readNpy(af).f32, attn.size()));
    }
  }
  return e;
}

void checkFastModel(const std::string& modelId, WeightClass c) {
  const bool int8 = c != WeightClass::Bf16;
  const fs::path shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("LAYERLENS_SHARED_DIR not set or missing: no reference data");
  if (!fs::exists(shared / "reference" / modelId / "model.json"))
    QSKIP("no reference for " + modelId);
  const auto& f = ll::kern::detectedCpuFeatures();
  if (int8 ? !f.int8Kernels() : !f.bf16Kernels())
    QSKIP("this CPU has no fast kernels for " + modelId + " (" + f.describe() + ")");
  const Errors fast = measure(modelId, "fast"), precise = measure(modelId, "precise");
  const FastTol tol = fastTolerance(c);
  std::printf(
      "INFO   : %s fast math: logits max|diff| %s (precise %s, tol %s), attention %s "
      "(precise %s, tol %s)\n",
      modelId.c_str(), parity::fmt(fast.logits).c_str(), parity::fmt(precise.logits).c_str(),
      parity::fmt(tol.logits).c_str(), parity::fmt(fast.attn).c_str(),
      parity::fmt(precise.attn).c_str(), parity::fmt(tol.attn).c_str());
  QVERIFY2(fast.logits <= tol.logits, modelId + " logits " + parity::fmt(fast.logits));
  QVERIFY2(fast.attn <= tol.attn, modelId + " attention " + parity::fmt(fast.attn));
  // Fast math must actually differ somewhere: otherwise the kernels did not run.
  QVERIFY2(fast.logits != precise.logits, modelId + ": fast and precise logits are identical");
}

// stories260K with every 2-D weight re-encoded to `type` (F16, or Q8_0 where rows are whole
// 32-blocks, F16 otherwise: ffn_down's 172-long rows).
fs::path reencodedStories(uint32_t type) {
  const fs::path src = lltest::sharedDir() / "models" / "stories260K.gguf";
  const fs::path out = fs::temp_directory_path() / ("ll_fast_math_" + std::to_string(getpid()) +
                                                    "_" + std::to_string(type) + ".gguf");
  auto g = ll::rt::GgufFile::open(src);
  lltest::GgufWriter w;
  w.copyMetadata(src, "");
  for (const auto& t : g->tensors()) {
    std::vector<float> v(size_t(t.nElements()));
    ll::kern::dequantizeRow(t.type, t.data, v.data(), t.nElements());
    if (t.ne.size() != 2) {
      w.addTensorF32(t.name, t.ne, v);
      continue;
    }
    const bool q8 = type == 8 && t.ne[0] % 32 == 0;
    w.addTensor(t.name, q8 ? 8 : 1, t.ne,
                [v, q8] { return q8 ? lltest::encodeQ8_0(v) : lltest::encodeF16(v); });
  }
  w.write(out);
  return out;
}

// Precise and fast math give the same greedy continuation of every reference prompt.
void checkGreedy(uint32_t type) {
  const fs::path shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("LAYERLENS_SHARED_DIR not set or missing: no stories260K");
  const auto& f = ll::kern::detectedCpuFeatures();
  if (type == 8 ? !f.int8Kernels() : !f.bf16Kernels())
    QSKIP(std::string("this CPU has no fast kernels for the copy (") + f.describe() + ")");
  const fs::path model = reencodedStories(type);
  struct Cleanup {
    fs::path p;
    ~Cleanup() { fs::remove(p); }
  } cleanup{model};
  ll::rt::Session precise, fast;
  precise.load(model, {"cpu", 2, "precise"});
  fast.load(model, {"cpu", 2, "fast"});
  auto mj = parity::readJson(shared / "reference" / "stories260K" / "model.json");
  int compared = 0;
  double maxLogit = 0;
  for (const auto& pj : mj["prompts"]) {
    const auto ids = parity::readJson(shared / "reference" / "stories260K" / pj.get<std::string>() /
                                      "tokens.json")["ids"]
                         .get<std::vector<int32_t>>();
    ll::rt::GenerateRequest req;
    req.maxTokens = 32;
    req.stopAtEos = false;
    precise.setPromptIds(ids);
    fast.setPromptIds(ids);
    const auto a = precise.run(), b = fast.run();
    maxLogit =
        std::max(maxLogit, parity::maxAbsDiff(b->logits.data(), a->logits, a->logits.size()));
    const auto ga = precise.generate(req), gb = fast.generate(req);
    QCOMPARE(gb.ids, ga.ids);
    compared += int(ga.ids.size());
  }
  std::printf(
      "INFO   : stories260K as %s: %d greedy tokens identical, prompt logits fast vs "
      "precise max|diff| %s\n",
      type == 8 ? "Q8_0" : "F16", compared, parity::fmt(maxLogit).c_str());
  QVERIFY(maxLogit > 0);  // the fast kernels ran
}

}  // namespace

LL_TEST(fastF16) {
  checkFastModel("llama-quant-F16", WeightClass::Bf16);
}
LL_TEST(fastBF16) {
  checkFastModel("llama-quant-BF16", WeightClass::Bf16);
}
LL_TEST(fastQ8_0) {
  checkFastModel("llama-quant-Q8_0", WeightClass::Int8);
}
LL_TEST(fastQ4_0) {
  checkFastModel("llama-quant-Q4_0", WeightClass::Int8);
}
LL_TEST(fastQ4_1) {
  checkFastModel("llama-quant-Q4_1", WeightClass::Int8Min);
}
LL_TEST(fastQ5_0) {
  checkFastModel("llama-quant-Q5_0", WeightClass::Int8);
}
LL_TEST(fastQ5_1) {
  checkFastModel("llama-quant-Q5_1", WeightClass::Int8Min);
}
LL_TEST(fastQ2_K) {
  checkFastModel("llama-quant-Q2_K", WeightClass::Int8Min);
}
LL_TEST(fastQ3_K) {
  checkFastModel("llama-quant-Q3_K_M", WeightClass::Int8Min);
}
LL_TEST(fastQ4_K) {
  checkFastModel("llama-quant-Q4_K_M", WeightClass::Int8Min);
}
LL_TEST(fastQ5_K) {
  checkFastModel("llama-quant-Q5_K_M", WeightClass::Int8Min);
}
LL_TEST(fastQ6_K) {
  checkFastModel("llama-quant-Q6_K", WeightClass::Int8);
}
LL_TEST(fastIQ4_NL) {
  checkFastModel("llama-quant-IQ4_NL", WeightClass::Int8);
}
LL_TEST(fastIQ4_XS) {
  checkFastModel("llama-quant-IQ4_XS", WeightClass::Int8);
}
LL_TEST(fastMXFP4) {
  checkFastModel("llama-quant-MXFP4", WeightClass::Int8);
}
LL_TEST(fastGqaF16) {
  checkFastModel("llama-gqa-f16", WeightClass::Bf16);
}
LL_TEST(fastGpt2F16) {
  checkFastModel("gpt2-tiny-f16", WeightClass::Bf16);
}
LL_TEST(greedyStoriesF16) {
  checkGreedy(1);
}
LL_TEST(greedyStoriesQ8_0) {
  checkGreedy(8);
}

// layerlens-cli's --cpu-math reaches the backend (run prints its name); a bad value is refused;
// without the flag LAYERLENS_CPU_MATH decides, and a bad value there fails naming the variable.
LL_TEST(cliCpuMath) {
  const fs::path shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("LAYERLENS_SHARED_DIR not set or missing: no model");
  const std::string run =
      "run " + (shared / "models" / "quant" / "llama-quant-F16.gguf").string() + " --ids 1,5,9";
  int code = 0;
  std::string out = clitest::runCli(run + " --cpu-math fast", &code);
  QVERIFY2(code == 0 && out.find("; fast math:") != std::string::npos, out);
  out = clitest::runCli(run + " --cpu-math precise", &code);
  QVERIFY2(code == 0 && out.find("backend cpu") != std::string::npos &&
               out.find("fast math") == std::string::npos,
           out);
  out = clitest::runCli(run + " --cpu-math fastest", &code);
  QVERIFY2(code != 0 && out.find("--cpu-math") != std::string::npos, out);
  setenv("LAYERLENS_CPU_MATH", "fast", 1);
  out = clitest::runCli(run, &code);
  QVERIFY2(code == 0 && out.find("; fast math:") != std::string::npos, out);
  setenv("LAYERLENS_CPU_MATH", "quick", 1);
  out = clitest::runCli(run, &code);
  unsetenv("LAYERLENS_CPU_MATH");
  QVERIFY2(code != 0 && out.find("LAYERLENS_CPU_MATH must be 'precise' or 'fast', not 'quick'") !=
                            std::string::npos,
           out);
}

LL_TEST_MAIN("tst_fast_math")
