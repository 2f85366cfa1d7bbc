// How close the precise panel GEMM (kernels/cpu/cpu_panel_gemm.h) runs to the core's f32 FMA peak,
// on one thread, on the engine's product shapes (x[n, cols] * W[rows, cols]^T, n = 512 by default).
// Not part of ctest.
//
// Per shape and weight type, each round measures, on the thread's CPU time (the machine is
// shared; a time slice lost to another process is not counted):
//   peak    a pure FMA loop (24 independent chains of 512-bit FMAs), run before every part below:
//           the percentages are of the highest peak measured among the shape's rounds (the same
//           clock, seconds apart), so interference in a round can lower a rate, never raise its
//           percentage;
//   tiles   panelTiles alone over every task panel of the product (weights packed beforehand per
//           256-column block, untimed: the register tiles' own rate);
//   panel   panelGemm over every task panel (weight packing included: F32 transposes, Q8_0 and F16
//           decode);
//   matmul  kern::cpuMatmul on a 1-thread pool (the activations' packing included).
// Each part repeats within a round until it has run --min-time seconds; its best of R rounds is
// printed.
//
// usage: bench_panel_gemm [--n 512] [--types F32,Q8_0] [--rounds 5] [--min-time 0.2]
//                         [--parts tiles,panel,matmul] [--shapes 2048x2048,256x2048,...]

#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.h"
#include "kernels/cpu/cpu_matmul.h"
#include "kernels/cpu/cpu_panel_gemm.h"
#include "kernels/cpu/scratch.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/quant.h"
#include "tests/unit/kernels/cpu_weight_fixtures.h"

// GCC 12 bug 105593: false "__Y is used uninitialized" inside avx512fintrin.h (fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace {

using namespace ll::kern;

double threadSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// GFLOP/s of 24 independent FMA chains on zmm registers: the FMA unit's throughput with nothing
// else in the loop (Zen 4: one 512-bit FMA per cycle; its latency, 4, needs only 4 chains).
__attribute__((target("avx512f"), noinline)) double peakGflops() {
  constexpr int64_t kIters = 2'000'000;
  __m512 acc[24];
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (__m512& a : acc) a = c;
  const double t0 = threadSeconds();
  for (int64_t i = 0; i < kIters; ++i) {
#pragma GCC unroll 24
    for (int j = 0; j < 24; ++j) acc[j] = _mm512_fmadd_ps(acc[j], b, c);
  }
  const double dt = threadSeconds() - t0;
  __m512 sum = acc[0];
  for (int j = 1; j < 24; ++j) sum = _mm512_add_ps(sum, acc[j]);
  volatile float keep = _mm512_reduce_add_ps(sum);  // keeps the chains live
  (void)keep;
  return 2.0 * 16 * 24 * double(kIters) / dt / 1e9;
}

struct Shape {
  int64_t rows, cols;  // weight [rows, cols]
};

struct Best {
  double peak = 0, gflops = 0;  // the highest of each over the rounds
  void take(double p, double g) {
    peak = std::max(peak, p);
    gflops = std::max(gflops, g);
  }
};

// Seconds of thread CPU time panelTiles takes over all task panels of w (weights packed per
// block outside the timed part).
double timeTiles(const float* xp, int n, const CpuWeight& w, float* y) {
  const int64_t panel = panelGemmRows(w.rows);
  double total = 0;
  for (int64_t r0 = 0; r0 < w.rows; r0 += panel) {
    const int64_t count = std::min(panel, w.rows - r0);
    // panelGemm's own slot: 64-byte aligned, as packPanel requires.
    float* bp = threadScratch(packedPanelFloats(count), 3);
    for (int64_t k0 = 0; k0 < w.cols; k0 += kPanelDepth) {
      packPanel(w, r0, count, k0, bp);
      const double t0 = threadSeconds();
      panelTiles(xp, n, w.cols, bp, count, k0, y + r0, w.rows);
      total += threadSeconds() - t0;
    }
  }
  return total;
}

double timePanels(const float* xp, int n, const CpuWeight& w, float* y) {
  const int64_t panel = panelGemmRows(w.rows);
  const double t0 = threadSeconds();
  for (int64_t r0 = 0; r0 < w.rows; r0 += panel)
    panelGemm(xp, n, w, r0, std::min(panel, w.rows - r0), y + r0, w.rows);
  return threadSeconds() - t0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  int n = 512, rounds = 5;
  double minTime = 0.2;
  std::string typesArg = "F32,Q8_0", partsArg = "tiles,panel,matmul",
              shapesArg = "2048x2048,256x2048,5632x2048,2048x5632,32000x2048";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--n")
      n = std::max(1, std::atoi(v.c_str()));
    else if (a == "--rounds")
      rounds = std::max(1, std::atoi(v.c_str()));
    else if (a == "--types")
      typesArg = v;
    else if (a == "--min-time")
      minTime = std::atof(v.c_str());
    else if (a == "--parts")
      partsArg = v;
    else if (a == "--shapes")
      shapesArg = v;
  }
  if (!panelGemmAvailable()) {
    std::printf("no AVX-512F (or LAYERLENS_CPU_GEMM=library): the panel GEMM does not run here\n");
    return 0;
  }
  std::vector<Shape> shapes;
  for (const std::string& s : bench::splitList(shapesArg)) {
    const size_t x = s.find('x');
    if (x != std::string::npos)
      shapes.push_back({std::atoll(s.substr(0, x).c_str()), std::atoll(s.substr(x + 1).c_str())});
  }
  std::vector<QType> types;
  for (const std::string& t : bench::splitList(typesArg)) {
    if (t == "F32") types.push_back(QType::F32);
    if (t == "F16") types.push_back(QType::F16);
    if (t == "Q8_0") types.push_back(QType::Q8_0);
  }
  const std::vector<std::string> parts = bench::splitList(partsArg);
  auto wants = [&](const char* p) {
    return std::find(parts.begin(), parts.end(), p) != parts.end();
  };

  ThreadPool pool(1);
  std::printf("1 thread, n %d, best of %d rounds on thread CPU time; %% of the highest peak\n", n,
              rounds);
  std::printf("\n| W (rows x cols) | type | part | GFLOP/s | peak GFLOP/s | %% of peak |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const Shape& s : shapes) {
    const auto x = cputest::randoms(size_t(n) * s.cols, 1);
    std::vector<float> xp(packedRowsFloats(n, s.cols)), y(size_t(n) * s.rows);
    packRows(n, s.cols, x.data(), xp.data(), 0, packedRowBlocks(n));
    const double flops = 2.0 * n * double(s.rows) * double(s.cols);
    for (const QType type : types) {
      std::vector<uint8_t> bytes;
      const CpuWeight w = cputest::makeWeight(
          type, s.rows, s.cols, cputest::randoms(size_t(s.rows) * s.cols, 2), bytes, 3);
      Best tiles, panel, matmul;
      // GFLOP/s of `part` (returning its seconds) repeated until it has run minTime seconds.
      auto rate = [&](auto part) {
        double seconds = 0;
        int64_t runs = 0;
        while (seconds < minTime || runs < 1) {
          seconds += part();
          ++runs;
        }
        return flops * double(runs) / seconds / 1e9;
      };
      for (int r = 0; r < rounds; ++r) {
        if (wants("tiles"))
          tiles.take(peakGflops(), rate([&] { return timeTiles(xp.data(), n, w, y.data()); }));
        if (wants("panel"))
          panel.take(peakGflops(), rate([&] { return timePanels(xp.data(), n, w, y.data()); }));
        if (wants("matmul"))
          matmul.take(peakGflops(), rate([&] {
                        const double t0 = threadSeconds();
                        cpuMatmul(pool, w, x.data(), y.data(), n);
                        return threadSeconds() - t0;
                      }));
      }
      const double peak = std::max({tiles.peak, panel.peak, matmul.peak});
      for (const auto& [name, b] : {std::pair<const char*, const Best&>{"tiles", tiles},
                                    {"panel", panel},
                                    {"matmul", matmul}})
        if (wants(name))
          std::printf("| %ldx%ld | %s | %s | %.1f | %.1f | %.1f%% |\n", long(s.rows), long(s.cols),
                      std::string(qtypeName(type)).c_str(), name, b.gflops, peak,
                      100.0 * b.gflops / peak);
    }
  }
  return 0;
}
