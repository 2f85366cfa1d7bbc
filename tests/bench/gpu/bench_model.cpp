// Prefill benchmark of the engine on the CUDA backend: loads an HF folder (model_bench.py makes
// a Llama-3.2-1B-shaped one with random bf16 weights), runs T random token ids and prints, per T
// and capture mode, the median wall time of Session::run and the peak device memory (sampled by a
// thread polling cudaMemGetInfo every 0.2 ms, so a peak shorter than that may be missed).
// Modes: plain (capture off, last logits), capture (per-layer statistics and residuals, last
// logits), full (capture + logits of every position).
// Usage: bench_model MODEL_DIR [T ...]   (LAYERLENS_CUDA_MATH picks precise or fast)
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "runtime/api/request.h"
#include "runtime/api/session.h"
#include "runtime/api/trace.h"
#include "runtime/engine/engine.h"
#include "runtime/model/model.h"

namespace {

class PeakSampler {
 public:
  void start() {
    size_t f = 0, t = 0;
    cudaMemGetInfo(&f, &t);
    m_minFree = f;
    m_stop = false;
    m_thread = std::thread([this] {
      while (!m_stop) {
        size_t f2 = 0, t2 = 0;
        if (cudaMemGetInfo(&f2, &t2) == cudaSuccess && f2 < m_minFree) m_minFree = f2;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  size_t stopMinFree() {
    m_stop = true;
    m_thread.join();
    return m_minFree;
  }

 private:
  std::atomic<bool> m_stop{false};
  std::atomic<size_t> m_minFree{0};
  std::thread m_thread;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_model MODEL_DIR [T ...]\n");
    return 2;
  }
  std::vector<int> Ts;
  for (int i = 2; i < argc; ++i) Ts.push_back(std::atoi(argv[i]));
  if (Ts.empty()) Ts = {512, 4096, 16384};
  size_t free0 = 0, total = 0;
  cudaMemGetInfo(&free0, &total);
  ll::rt::Session s;
  const auto t0 = std::chrono::steady_clock::now();
  s.load(argv[1], ll::rt::parseBackend("cuda", 0));
  const double loadS = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (s.backendName() != "cuda") {
    std::printf("not on CUDA: %s\n", s.backendNote().c_str());
    return 1;
  }
  size_t freeLoaded = 0;
  cudaMemGetInfo(&freeLoaded, &total);
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const char* math = std::getenv("LAYERLENS_CUDA_MATH");
  std::printf("model %s loaded in %.1f s on %s (math %s); weights etc. %.2f GiB\n", argv[1], loadS,
              s.engine().backend().deviceDescription().c_str(), math ? math : "precise",
              double(free0 - freeLoaded) / gib);
  std::mt19937 g(7);
  std::uniform_int_distribution<int> tok(3,
                                         499);  // inside the small carried tokenizer's vocabulary
  struct Mode {
    const char* name;
    bool capture, allLogits;
  };
  const Mode modes[] = {{"plain", false, false}, {"capture", true, false}, {"full", true, true}};
  for (int T : Ts) {
    std::vector<int32_t> ids(static_cast<size_t>(T));
    for (auto& id : ids) id = tok(g);
    s.setPromptIds(ids);
    double plainMs = 0;
    for (const Mode& m : modes) {
      ll::rt::RunRequest req;
      req.capture.enabled = m.capture;
      req.capture.allLogits = m.allLogits;
      const int reps = T >= 16384 ? 2 : 5;
      std::vector<double> ms;
      size_t minFree = SIZE_MAX;
      try {
        for (int r = 0; r <= reps; ++r) {  // r == 0 warms up
          s.resetCache();
          PeakSampler ps;
          ps.start();
          const auto a = std::chrono::steady_clock::now();
          auto tr = s.run(req);
          const double dt =
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a)
                  .count();
          minFree = std::min(minFree, ps.stopMinFree());
          if (r > 0) ms.push_back(dt);
          if (tr->nTokens != T) std::printf("  (trace has %d tokens)\n", tr->nTokens);
        }
      } catch (const std::exception& e) {
        std::printf("RESULT T=%d mode=%s FAILED: %s\n", T, m.name, e.what());
        continue;
      }
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2];
      if (m.capture == false) plainMs = med;
      std::printf(
          "RESULT T=%d mode=%s median %.1f ms (min %.1f) peak device %.2f GiB total, %.2f GiB "
          "above "
          "the loaded model%s\n",
          T, m.name, med, ms.front(), double(free0 - minFree) / gib,
          double(freeLoaded - minFree) / gib,
          plainMs > 0 && m.capture
              ? (", +" + std::to_string(int(100.0 * (med - plainMs) / plainMs + 0.5)) +
                 "% over plain")
                    .c_str()
              : "");
      std::fflush(stdout);
    }
  }
  return 0;
}
