// Analysis benchmark on a TinyLlama-1.1B-shaped model with random weights (22 layers, d 2048,
// 32/4 heads, FFN 5632, vocab 32000; the same GGUF bench_engine writes to /tmp/layerlens-bench,
// written here with the same fixture writer when absent). At T tokens with N CPU threads prints:
// the captured forward pass, the logit lens for one token across all layers (with and without the
// after-attention points), a full GemFilter selection (the pass plus the scoring) through all
// layers and with the early exit after the selection layer, and a steering-vector build from
// 2 x 8 prompts. Not part of ctest.
//
// usage: bench_analysis [--threads 2] [--tokens 512] [--type Q8_0|F16] [--layers 22] [--out DIR]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "fixture_writer.h"
#include "lltest.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/steering.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using lltest::TinyLlamaShape;
constexpr int kEmbd = TinyLlamaShape::kEmbd, kHead = TinyLlamaShape::kHead,
              kHeadKv = TinyLlamaShape::kHeadKv, kFf = TinyLlamaShape::kFf,
              kVocab = TinyLlamaShape::kVocab;

double seconds(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

// Median wall time of reps calls; cpu (if given) gets the median process CPU time per call, which
// on a shared machine says what an idle one would take (CPU time / threads when all are busy).
template <class F>
double median(int reps, F&& f, double* cpu = nullptr) {
  std::vector<double> t, c;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    const std::clock_t c0 = std::clock();
    f();
    c.push_back(double(std::clock() - c0) / CLOCKS_PER_SEC);
    t.push_back(seconds(t0));
  }
  std::sort(t.begin(), t.end());
  std::sort(c.begin(), c.end());
  if (cpu) *cpu = c[c.size() / 2];
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parseArgs(argc, argv, 512, 22);
  const int threads = args.threads, tokens = args.tokens, layers = args.layers;
  const std::string type = args.type;
  const fs::path shared = lltest::sharedDir();
  if (shared.empty()) {
    std::fprintf(stderr, "bench_analysis: LAYERLENS_SHARED_DIR (for the tokenizer) not found\n");
    return 1;
  }
  const fs::path file = bench::tinyLlamaShapedModel(args.out, type, layers, shared);
  std::printf(
      "bench_analysis: TinyLlama-1.1B shape (L%d d%d H%d/%d ff%d V%d) %s, T = %d, %d threads\n",
      layers, kEmbd, kHead, kHeadKv, kFf, kVocab, type.c_str(), tokens, threads);
  ll::rt::Session s;
  s.load(file, {"cpu", threads});
  std::mt19937 rng(5);
  auto randomIds = [&](int n) {
    std::vector<int32_t> ids = {1};
    while (static_cast<int>(ids.size()) < n)
      ids.push_back(3 + static_cast<int32_t>(rng() % (kVocab - 3)));
    return ids;
  };
  const auto ids = randomIds(tokens);
  s.setPromptIds(ids);
  ll::rt::RunRequest full;
  full.capture = {true,
                  false};  // per-layer capture, last logits (what the lens and selection need)

  s.resetCache();
  std::shared_ptr<const ll::rt::Trace> tr;
  double cpu = 0;
  const double pass = median(
      1, [&] { tr = s.run(full); }, &cpu);
  std::printf("forward pass with capture (T = %d)          %8.2f s wall, %8.2f s CPU\n", tokens,
              pass, cpu);

  ll::rt::ana::LensOptions lo;
  lo.tokens = {tokens - 1};
  lo.mid = false;
  ll::rt::ana::LensProjector direct(s.engine());
  ll::rt::ana::logitLens(direct, *tr, lo);  // warm-up
  const double lens = median(
      7, [&] { ll::rt::ana::logitLens(direct, *tr, lo); }, &cpu);
  std::printf(
      "logit lens, 1 token x (%d layers + embd), %s head: %7.1f ms wall, %7.1f ms CPU "
      "(target well under 100 ms)\n",
      layers, type.c_str(), 1e3 * lens, 1e3 * cpu);
  lo.mid = true;
  const double lensMid = median(
      5, [&] { ll::rt::ana::logitLens(direct, *tr, lo); }, &cpu);
  std::printf("  + the %d after-attention points:            %7.1f ms wall, %7.1f ms CPU\n", layers,
              1e3 * lensMid, 1e3 * cpu);
  lo.mid = false;
  lo.finalNorm = false;
  const double lensBupo = median(
      5, [&] { ll::rt::ana::logitLens(direct, *tr, lo); }, &cpu);
  std::printf("  BuPO (no final norm):                       %7.1f ms wall, %7.1f ms CPU\n",
              1e3 * lensBupo, 1e3 * cpu);
  lo.finalNorm = true;

  const int r = std::min(layers - 1, 13);
  const int k = std::min(tokens, 128);
  const double score = median(5, [&] { ll::rt::ana::gemFilter(ll::rt::ana::qkView(*tr, r), k); });
  double gemCpu = 0;
  const double gem = median(
      1,
      [&] {
        s.resetCache();
        auto tr2 = s.run(full);
        ll::rt::ana::gemFilter(ll::rt::ana::qkView(*tr2, r), k);
      },
      &gemCpu);
  std::printf(
      "GemFilter at layer %d, k = %d: full (pass + select) %.2f s wall, %.2f s CPU; scoring "
      "alone %.2f ms\n",
      r, k, gem, gemCpu, 1e3 * score);
  double earlyCpu = 0;
  const double gemEarly = median(
      1,
      [&] {
        s.resetCache();
        ll::rt::ana::gemFilterSelect(s, r, k);
      },
      &earlyCpu);
  std::printf(
      "GemFilter at layer %d, k = %d, early exit (layers 0..%d only): %.2f s wall, %.2f s CPU "
      "(before: %.2f s wall, %.2f s CPU through all %d layers)\n",
      r, k, r, gemEarly, earlyCpu, gem, gemCpu, layers);

  std::vector<std::vector<int32_t>> pos, neg;
  for (int i = 0; i < 8; ++i) pos.push_back(randomIds(32)), neg.push_back(randomIds(32));
  double stCpu = 0;
  const double st = median(
      1,
      [&] {
        ll::rt::ana::contrastiveVector(s, ll::rt::ana::defaultSteeringLayer(layers), pos, neg);
      },
      &stCpu);
  std::printf(
      "steering vector, 2 x 8 prompts of 32 tokens   %8.2f s wall, %8.2f s CPU (layer %d)\n", st,
      stCpu, ll::rt::ana::defaultSteeringLayer(layers));
  return 0;
}
