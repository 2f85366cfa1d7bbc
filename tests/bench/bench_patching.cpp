// Activation-patching benchmark (ALGORITHMS.md §12) on the TinyLlama-1.1B-shaped model with
// random weights (d 2048, 32/4 heads, FFN 5632, vocab 32000; --layers of them, the fixture
// bench_analysis writes): the full layer x position residual-stream sweep (denoising, corrupted
// prompt = the clean one with token 1 changed, so T - 1 positions are run) against one prefill of
// the same T. Prints both times, their ratio, and the ratios of three work models in prefills:
// no reuse (every pass runs all T rows: L (T - 1)), the engine's row reuse (a pass at t runs rows
// [t, T): L (T - 1) / 2), and perfect reuse of rows and layers (rows >= t of layers >= l only:
// (T - 1)(L + 1) / 4), plus the extrapolation to 22 layers. Not part of ctest.
//
// usage: bench_patching [--threads 2] [--tokens 128] [--layers 4] [--type Q8_0|F16] [--out DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "fixture_writer.h"
#include "lltest.h"
#include "runtime/analysis/patching.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parseArgs(argc, argv, 128, 4);
  const int threads = args.threads, tokens = args.tokens, layers = args.layers;
  const std::string type = args.type;
  const fs::path shared = lltest::sharedDir();
  if (shared.empty() || tokens < 2 || layers < 1) {
    std::fprintf(stderr,
                 "bench_patching: needs LAYERLENS_SHARED_DIR, --tokens >= 2, --layers >= 1\n");
    return 1;
  }
  const fs::path file = bench::tinyLlamaShapedModel(args.out, type, layers, shared);
  std::printf("bench_patching: TinyLlama-1.1B shape with %d layers, %s, T = %d, %d threads\n",
              layers, type.c_str(), tokens, threads);
  ll::rt::Session s;
  s.load(file, {"cpu", threads});
  std::mt19937 rng(11);
  std::vector<int32_t> clean = {1};
  while (static_cast<int>(clean.size()) < tokens)
    clean.push_back(3 + static_cast<int32_t>(rng() % (lltest::TinyLlamaShape::kVocab - 3)));
  std::vector<int32_t> corrupt = clean;
  corrupt[1] = clean[1] == 5 ? 6 : 5;
  std::vector<int32_t> pos(clean.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);

  // One prefill as the patched passes run it: no capture, last logits; best of 2.
  double prefill = 1e30;
  for (int rep = 0; rep < 2; ++rep) {
    s.engine().resetCache();
    const auto t0 = Clock::now();
    s.engine().run(corrupt, pos, {}, ll::rt::CaptureOptions{false, false}, {}, false);
    prefill = std::min(prefill, seconds(t0));
  }
  std::printf("one prefill (capture off, last logits)   %8.3f s\n", prefill);

  ll::rt::ana::PatchingRequest rq;
  rq.heads = false;
  s.engine().resetCache();
  const auto t0 = Clock::now();
  const auto r = ll::rt::ana::activationPatching(s, clean, corrupt, rq);
  const double sweep = seconds(t0);
  const double L = layers, T = tokens, n = T - r.firstDiff;
  const double noReuse = L * n, rowReuse = L * n * (n + 1) / 2 / T,
               perfect = n * (n + 1) / 2 / T * (L + 1) / 2;
  std::printf("residual sweep: %d passes (%d layers x %d positions) %8.1f s = %.1f prefills\n",
              r.passes, layers, static_cast<int>(n), sweep, sweep / prefill);
  std::printf(
      "work models in prefills: no reuse %.1f, row reuse (this engine) %.1f, rows and "
      "layers (perfect) %.1f\n",
      noReuse, rowReuse, perfect);
  std::printf("measured / row-reuse model = %.2f (the rest: per-pass LM head and setup)\n",
              sweep / prefill / rowReuse);
  // Ratios grow with L; a 22-layer prefill costs about 22/L of this one.
  const double k = 22.0 / L;
  std::printf(
      "extrapolated to 22 layers: ratio %.0f prefills (row reuse), %.0f (perfect); sweep "
      "about %.0f s = %.1f min at this machine's rate\n",
      sweep / prefill * k, perfect * (22 + 1) / (L + 1), sweep * k * k, sweep * k * k / 60);
  return 0;
}
