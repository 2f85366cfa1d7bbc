// Shared harness of the engine parity tests: loads a model, runs every prompt of its reference
// folder (shared/reference/<model-id>) and compares logits, attention, residuals, embeddings,
// final norm, MoE routing and greedy continuations at the README's tolerances. The backend comes
// from LAYERLENS_TEST_BACKEND (cpu, default, or cuda; cuda without a GPU skips); the CPU thread
// count from LAYERLENS_TEST_THREADS (default 2), so sanitizer runs can vary the pool size.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/backends.h"
#include "lltest.h"
#include "npy.h"
#include "runtime/api/session.h"

namespace parity {

namespace fs = std::filesystem;

inline ll::rt::BackendChoice testBackend() {
  const char* env = std::getenv("LAYERLENS_TEST_BACKEND");
  std::string name = env && *env ? env : "cpu";
  ll::rt::BackendChoice c;
  c.name = name;
  c.threads = 2;
  c.cpuMath = "precise";  // parity is the precise mode's bar, whatever LAYERLENS_CPU_MATH says
  if (const char* t = std::getenv("LAYERLENS_TEST_THREADS"); t && *t) c.threads = std::atoi(t);
  if (name == "cuda") {
    std::string why;
    if (!ll::kern::makeCudaBackend(&why))
      throw lltest::Skip{"LAYERLENS_TEST_BACKEND=cuda but no CUDA backend: " + why};
  } else if (name != "cpu" && name != "reference") {
    throw lltest::Skip{"unknown LAYERLENS_TEST_BACKEND " + name};
  }
  return c;
}

inline nlohmann::json readJson(const fs::path& p) {
  return nlohmann::json::parse(lltest::readText(p));
}

// Max |a - b| over all elements; +inf when the sizes differ or a value is NaN.
inline double maxAbsDiff(const float* a, const std::vector<float>& b, size_t n) {
  if (n != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

struct Tol {
  double logits = 1e-3, resid = 5e-4, attn = 1e-4, router = 1e-4;
};

inline Tol tolerancesFor(const std::string& cls, bool torch64) {
  Tol t;
  if (torch64) return t;  // f32 arithmetic vs float64 torch: logits 1e-3, resid 5e-4, attn 1e-4
  if (cls == "gpt2") t = {5e-3, 5e-3, 5e-4, 1e-4};
  if (cls == "bf16") t = {0.06, 0.04, 6e-3, 1e-4};
  if (cls == "quant") t = {0.35, 0.25, 0.04, 1e-4};
  return t;
}

struct Report {
  std::vector<std::string> failures;
  int checks = 0;  // comparisons made: a parity test that compared nothing has proved nothing
  void check(bool ok, const std::string& what) {
    ++checks;
    if (!ok) failures.push_back(what);
  }
  void finish() {
    if (failures.empty()) return;
    std::string all;
    for (const auto& f : failures) all += "\n     " + f;
    lltest::fail(std::to_string(failures.size()) + " parity failure(s):" + all, __FILE__, __LINE__);
  }
};

inline std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

// Compares one captured tensor with a reference .npy when the file exists.
inline void compareNpy(Report& r, const std::string& tag, const fs::path& file, const float* ours,
                       size_t n, double tol) {
  if (!fs::exists(file)) return;
  auto ref = lltest::readNpy(file);
  const double d = maxAbsDiff(ours, ref.f32, n);
  std::printf("  %-40s max|diff| %-9s (tol %s)\n", (tag + " " + file.filename().string()).c_str(),
              fmt(d).c_str(), fmt(tol).c_str());
  r.check(d <= tol,
          tag + " " + file.filename().string() + ": max|diff| " + fmt(d) + " > " + fmt(tol));
}

// Greedy continuation vs generate.json; a first divergence is accepted only at a reference near-tie
// (margin below `tieMargin`), and is reported as such.
inline void compareGreedy(Report& r, const std::string& tag, ll::rt::Session& s,
                          const fs::path& genFile, double tieMargin) {
  if (!fs::exists(genFile)) return;
  auto g = readJson(genFile);
  std::vector<int32_t> want = g["ids"].get<std::vector<int32_t>>();
  std::vector<double> margin;
  if (g.contains("top1_minus_top2_logit"))
    margin = g["top1_minus_top2_logit"].get<std::vector<double>>();
  ll::rt::GenerateRequest req;
  req.maxTokens = static_cast<int>(want.size());
  req.stopAtEos = false;
  auto got = s.generate(req);
  size_t i = 0;
  while (i < want.size() && i < got.ids.size() && got.ids[i] == want[i]) ++i;
  if (i == want.size()) {
    std::printf("  %-40s %zu/%zu tokens identical\n", (tag + " greedy").c_str(), i, want.size());
    return;
  }
  const double m = i < margin.size() ? margin[i] : INFINITY;
  if (m < tieMargin) {
    std::printf(
        "  %-40s diverges at step %zu where the reference margin is %s (< %s: near-tie, "
        "accepted)\n",
        (tag + " greedy").c_str(), i, fmt(m).c_str(), fmt(tieMargin).c_str());
    return;
  }
  r.check(false, tag + " greedy: token " + std::to_string(i) + " is " +
                     (i < got.ids.size() ? std::to_string(got.ids[i]) : std::string("missing")) +
                     ", expected " + std::to_string(want[i]) + " (reference margin " + fmt(m) +
                     ")");
}

struct Options {
  fs::path modelOverride;  // twin file/folder (HF, llama2c) checked against the model's references
  bool compareLlamaCpp = true;
};

// Returns the number of comparisons made (throws on any failure).
inline int checkModel(const std::string& modelId, Options opt = {}) {
  const fs::path shared = lltest::sharedDir();
  if (shared.empty())
    throw lltest::Skip{"LAYERLENS_SHARED_DIR not set or missing: no reference data"};
  const fs::path refDir = shared / "reference" / modelId;
  if (!fs::exists(refDir / "model.json")) throw lltest::Skip{"no reference for " + modelId};
  auto mj = readJson(refDir / "model.json");
  const std::string cls = mj["tolerance_class"].get<std::string>();
  const fs::path modelPath = opt.modelOverride.empty()
                                 ? shared / mj["model_file"].get<std::string>()
                                 : shared / opt.modelOverride;
  ll::rt::Session s;
  s.load(modelPath, testBackend());
  std::printf("%s (%s) on %s\n", modelId.c_str(), modelPath.filename().c_str(),
              s.backendName().c_str());
  Report r;
  for (const auto& pj : mj["prompts"]) {
    const std::string prompt = pj.get<std::string>();
    const fs::path dir = refDir / prompt;
    auto tj = readJson(dir / "tokens.json");
    s.setPromptIds(tj["ids"].get<std::vector<int32_t>>());
    auto tr = s.run();
    const size_t T = tr->nTokens, d = tr->nEmbd, H = tr->nHead;
    // torch64 (f32-arithmetic reference) where present, llama.cpp otherwise / in addition.
    std::vector<std::pair<fs::path, Tol>> refs;
    const bool hasTorch = fs::exists(dir / "torch64");
    if (hasTorch) refs.push_back({dir / "torch64", tolerancesFor(cls, true)});
    if (!hasTorch || opt.compareLlamaCpp) refs.push_back({dir, tolerancesFor(cls, false)});
    for (const auto& [rd, tol] : refs) {
      const std::string tag = modelId + "/" + prompt + (rd == dir ? "" : "/torch64");
      const double logitTol = prompt == "long300" && rd == dir && cls == "f32" ? 2e-3 : tol.logits;
      compareNpy(r, tag, rd / "logits.npy", tr->logits.data(), tr->logits.size(), logitTol);
      compareNpy(r, tag, rd / "embd.npy", tr->embd.data(), T * d, tol.resid);
      compareNpy(r, tag, rd / "final_norm.npy", tr->finalNormRows(0, T).data(), T * d, tol.resid);
      for (int l = 0; l < tr->nLayer; ++l) {
        const std::string ls = std::to_string(l);
        compareNpy(r, tag, rd / ("resid-" + ls + ".npy"), tr->layers[l].resid.data(), T * d,
                   tol.resid);
        if (fs::exists(rd / ("attn-" + ls + ".npy"))) {
          std::vector<float> attn(H * T * T);
          for (size_t h = 0; h < H; ++h) {
            auto m = s.attentionMap(*tr, l, static_cast<int>(h));
            std::copy(m.begin(), m.end(), attn.begin() + h * T * T);
          }
          compareNpy(r, tag, rd / ("attn-" + ls + ".npy"), attn.data(), attn.size(), tol.attn);
        }
        const auto& L = tr->layers[l];
        if (fs::exists(rd / ("router-" + ls + ".npy"))) {
          compareNpy(r, tag, rd / ("router-" + ls + ".npy"), L.routerLogits.data(),
                     L.routerLogits.size(), tol.router);
          compareNpy(r, tag, rd / ("expert_weights-" + ls + ".npy"), L.expertWeights.data(),
                     L.expertWeights.size(), tol.router);
          auto ex = lltest::readNpy(rd / ("experts-" + ls + ".npy"));
          size_t same = 0;
          for (size_t i = 0; i < ex.i32.size() && i < L.experts.size(); ++i)
            same += ex.i32[i] == L.experts[i];
          std::printf("  %-40s %zu/%zu identical\n", (tag + " experts-" + ls).c_str(), same,
                      ex.i32.size());
          r.check(same == ex.i32.size() && ex.i32.size() == L.experts.size(),
                  tag + " experts-" + ls + " differ");
        }
      }
      // Greedy: the f32-arithmetic reference decides (llama.cpp quantizes activations).
      const bool greedyHere = !hasTorch || rd != dir || cls == "gpt2";
      if (greedyHere) compareGreedy(r, tag, s, rd / "generate.json", 2 * tol.logits);
    }
  }
  r.finish();
  return r.checks;
}

}  // namespace parity
