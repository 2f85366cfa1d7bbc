// sgemm benchmark on the engine's shapes: y[n, rows] = x[n, cols] * W^T (row-major, as
// kernels/cpu/cpu_matmul.cpp computes it) with the engine's own product (cpuMatmul), Eigen,
// OpenBLAS (pthread and OpenMP builds), BLIS and oneDNN, at 1 and 2 threads. Not part of ctest.
//
// Every library but Eigen is dlopen'ed by path, so one run measures both OpenBLAS variants side by
// side (each library is loaded RTLD_LOCAL | RTLD_DEEPBIND: its own symbols win inside it) and the
// benchmark builds without any of them; an absent library is reported and skipped.
// Two modes per library: "lib" = one call with the library's own threading at T threads; "panels"
// = the engine's way: our ThreadPool of T threads over panels of weight rows (ll::kern::
// f32PanelRows), the library forced to 1 thread inside each panel.
//
// usage: bench_gemm [--libs engine,eigen,openblas-pthread,openblas-openmp,blis,dnnl] [--threads
// 1,2]
//                   [--ns 1,8,32,128,512] [--min-time 0.3] [--modes lib,panels] [--panel ROWS]
// Each figure is printed on wall time and on process CPU time / threads (the machine is shared).

#include <dlfcn.h>
#include <immintrin.h>
#include <time.h>
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "kernels/cpu/cpu_matmul.h"
#include "kernels/cpu/cpu_panel_gemm.h"
#include "kernels/cpu/cpu_sgemm.h"
#include "kernels/cpu/thread_pool.h"

using Clock = std::chrono::steady_clock;

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMat>;
using OutMap = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;

struct Shape {
  int64_t rows, cols;  // weight [rows, cols]
};
constexpr Shape kShapes[] = {{2048, 2048}, {256, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}};

// y[n, rows] (row stride ldy) = x[n, cols] * w[rows, cols]^T, computed by one library call.
using GemmFn = std::function<void(int n, int64_t rows, int64_t cols, const float* x, const float* w,
                                  float* y, int64_t ldy)>;

struct Library {
  std::string name;
  std::string detail;  // version / kernel set, as the library reports it
  GemmFn gemm;
  // Sets the library's internal thread count for calls made from the calling thread.
  std::function<void(int)> setThreads;
  bool threaded = false;  // "lib" mode at more than one thread is meaningful
  bool engine = false;    // the engine's own cpuMatmul: one mode, on the bench's pool
};

using OmpSetNumThreads = void (*)(int);
OmpSetNumThreads ompSetNumThreads() {
  // Same soname as the libraries' own dependency, so this is the libgomp instance they use.
  static OmpSetNumThreads fn = [] {
    void* h = dlopen("libgomp.so.1", RTLD_NOW | RTLD_LOCAL);
    return h ? reinterpret_cast<OmpSetNumThreads>(dlsym(h, "omp_set_num_threads")) : nullptr;
  }();
  return fn;
}

void* openLibrary(const char* path) {
  return dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
}

template <class F>
F symbol(void* h, const char* name) {
  return h ? reinterpret_cast<F>(dlsym(h, name)) : nullptr;
}

Library eigenLibrary() {
  Library lib;
  lib.name = "eigen";
  lib.detail = "Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
               std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION);
  lib.gemm = [](int n, int64_t rows, int64_t cols, const float* x, const float* w, float* y,
                int64_t ldy) {
    OutMap Y(y, n, rows, Eigen::OuterStride<>(ldy));
    Y.noalias() = ConstMap(x, n, cols) * ConstMap(w, rows, cols).transpose();
  };
  lib.setThreads = [](int) {};  // built without OpenMP: always one thread
  return lib;
}

// The engine's f32 product as the CPU backend runs it (kern::cpuMatmul on an F32 weight: the panel
// GEMM of cpu_panel_gemm.h on AVX-512 from 32 rows, else the build's library in panels).
Library engineLibrary() {
  Library lib;
  lib.name = "engine";
  lib.detail = ll::kern::panelGemmAvailable()
                   ? "kern::cpuMatmul: LayerLens AVX-512 panel GEMM from 32 rows, " +
                         ll::kern::sgemmLibrary() + " / Eigen below"
                   : "kern::cpuMatmul: " + ll::kern::sgemmLibrary() + " (no AVX-512F)";
  lib.setThreads = [](int) {};
  lib.engine = true;
  return lib;
}

// CBLAS enum values (cblas.h): row-major 101, no transpose 111, transpose 112.
using CblasSgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*,
                            int, float, float*, int);

bool openblasLibrary(const std::string& variant, Library& lib) {
  const std::string path = "/usr/lib/x86_64-linux-gnu/openblas-" + variant + "/libopenblas.so.0";
  void* h = openLibrary(path.c_str());
  auto sgemm = symbol<CblasSgemm>(h, "cblas_sgemm");
  auto setN = symbol<void (*)(int)>(h, "openblas_set_num_threads");
  auto core = symbol<char* (*)()>(h, "openblas_get_corename");
  auto config = symbol<char* (*)()>(h, "openblas_get_config");
  if (!sgemm || !setN) return false;
  lib.name = "openblas-" + variant;
  lib.detail = std::string(config ? config() : "") + ", core " + (core ? core() : "?");
  lib.gemm = [sgemm](int n, int64_t rows, int64_t cols, const float* x, const float* w, float* y,
                     int64_t ldy) {
    sgemm(101, 111, 112, n, int(rows), int(cols), 1.0f, x, int(cols), w, int(cols), 0.0f, y,
          int(ldy));
  };
  // The OpenMP build follows the calling thread's OpenMP thread count, the pthread build its own.
  const bool omp = variant == "openmp";
  lib.setThreads = [setN, omp](int t) {
    setN(t);
    if (omp && ompSetNumThreads()) ompSetNumThreads()(t);
  };
  lib.threaded = true;
  return true;
}

// bli_sgemm(transa, transb, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) with
// 64-bit dim_t / inc_t (blis.h on x86-64); W^T is expressed through strides (rsb 1, csb cols).
using BliSgemm = void (*)(int, int, int64_t, int64_t, int64_t, const float*, const float*, int64_t,
                          int64_t, const float*, int64_t, int64_t, const float*, float*, int64_t,
                          int64_t);

bool blisLibrary(Library& lib) {
  void* h = openLibrary("/usr/lib/x86_64-linux-gnu/libblis.so.4");
  auto sgemm = symbol<BliSgemm>(h, "bli_sgemm");
  auto setN = symbol<void (*)(int64_t)>(h, "bli_thread_set_num_threads");
  auto version = symbol<const char* (*)()>(h, "bli_info_get_version_str");
  auto arch = symbol<int (*)()>(h, "bli_arch_query_id");
  auto archName = symbol<const char* (*)(int)>(h, "bli_arch_string");
  if (!sgemm || !setN) return false;
  lib.name = "blis";
  lib.detail = std::string("BLIS ") + (version ? version() : "?") + ", arch " +
               (arch && archName ? archName(arch()) : "?");
  lib.gemm = [sgemm](int n, int64_t rows, int64_t cols, const float* x, const float* w, float* y,
                     int64_t ldy) {
    const float one = 1.0f, zero = 0.0f;
    sgemm(0, 0, n, rows, cols, &one, x, cols, 1, w, 1, cols, &zero, y, ldy, 1);
  };
  lib.setThreads = [setN](int t) {
    setN(t);
    if (ompSetNumThreads()) ompSetNumThreads()(t);
  };
  lib.threaded = true;
  return true;
}

using DnnlSgemm = int (*)(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
struct DnnlVersion {
  int major, minor, patch;
  const char *hash, *cpuRuntime, *gpuRuntime;  // unsigned in the header; only printed here
};

bool dnnlLibrary(Library& lib) {
  void* h = openLibrary("/usr/lib/x86_64-linux-gnu/libdnnl.so.2");
  auto sgemm = symbol<DnnlSgemm>(h, "dnnl_sgemm");
  auto version = symbol<const DnnlVersion* (*)()>(h, "dnnl_version");
  if (!sgemm) return false;
  lib.name = "dnnl";
  if (version) {
    const DnnlVersion* v = version();
    lib.detail = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                 std::to_string(v->patch) + " (OpenMP)";
  }
  lib.gemm = [sgemm](int n, int64_t rows, int64_t cols, const float* x, const float* w, float* y,
                     int64_t ldy) {
    sgemm('N', 'T', n, rows, cols, 1.0f, x, cols, w, cols, 0.0f, y, ldy);
  };
  // oneDNN's OpenMP runtime uses the calling thread's OpenMP thread count.
  lib.setThreads = [](int t) {
    if (ompSetNumThreads()) ompSetNumThreads()(t);
  };
  lib.threaded = ompSetNumThreads() != nullptr;
  return true;
}

double cpuSeconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Peak f32 FMA rate of `threads` threads: independent FMA chains on the widest vectors the
// kernels are compiled for (the kernels' -march flags), 2 flops per lane.
double peakGflops(int threads) {
  constexpr int64_t kIters = 20'000'000;
  auto body = [] {
#if defined(__AVX512F__)
    using V = __m512;
    constexpr int kLanes = 16;
    auto fma = [](V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); };
    auto lowLane = [](V a) { return _mm512_cvtss_f32(a); };
    V b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
#else
    using V = __m256;
    constexpr int kLanes = 8;
    auto fma = [](V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); };
    auto lowLane = [](V a) { return _mm256_cvtss_f32(a); };
    V b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
#endif
    V acc[12];
    for (V& a : acc) a = c;
    for (int64_t i = 0; i < kIters; ++i)
      for (V& a : acc) a = fma(a, b, c);
    V sum = acc[0];
    for (int i = 1; i < 12; ++i) sum = fma(sum, b, acc[i]);
    volatile float keep = lowLane(sum);  // keeps the chains live without taking their address
    (void)keep;
    return 2.0 * kLanes * 12 * kIters;
  };
  // Each thread's rate on its own CPU time: the machine is shared, so wall time would count the
  // time slices other processes took.
  std::vector<double> rate(size_t(threads), 0.0);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      const double c0 = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);
      const double flops = body();
      rate[size_t(t)] = flops / (cpuSeconds(CLOCK_THREAD_CPUTIME_ID) - c0);
    });
  for (auto& t : ts) t.join();
  double total = 0;
  for (double r : rate) total += r;
  return total / 1e9;
}

// Largest relative error of a few entries against a double-precision dot product: catches a wrong
// stride or transpose in a library binding.
double checkResult(int n, const Shape& s, const float* x, const float* w, const float* y) {
  double worst = 0;
  for (int k = 0; k < 16; ++k) {
    const int i = (k * 7) % n;
    const int64_t j = (int64_t(k) * 7919) % s.rows;
    double ref = 0, mag = 0;
    for (int64_t c = 0; c < s.cols; ++c) {
      ref += double(x[i * s.cols + c]) * w[j * s.cols + c];
      mag += std::abs(double(x[i * s.cols + c]) * w[j * s.cols + c]);
    }
    worst = std::max(worst, std::abs(y[i * s.rows + j] - ref) / mag);
  }
  return worst;
}

struct Result {
  std::string column;  // "lib mode"
  int shape, n, threads;
  double gflops, gflopsCpu;  // on wall time, on CPU time / threads
};

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string libsArg = "engine,eigen,openblas-pthread,openblas-openmp,blis,dnnl",
              threadsArg = "1,2", nsArg = "1,8,32,128,512";
  double minTime = 0.3;
  std::string modesArg = "lib,panels";
  int64_t panelRows = 0;  // panel width in weight rows; 0: the engine's f32PanelRows
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--libs")
      libsArg = v;
    else if (a == "--threads")
      threadsArg = v;
    else if (a == "--ns")
      nsArg = v;
    else if (a == "--min-time")
      minTime = std::atof(v.c_str());
    else if (a == "--modes")
      modesArg = v;
    else if (a == "--panel")
      panelRows = std::atoi(v.c_str());
  }
  std::vector<int> threadCounts, ns;
  for (auto& t : bench::splitList(threadsArg))
    threadCounts.push_back(std::max(1, std::atoi(t.c_str())));
  for (auto& t : bench::splitList(nsArg)) ns.push_back(std::max(1, std::atoi(t.c_str())));

  std::vector<Library> libs;
  for (const std::string& name : bench::splitList(libsArg)) {
    Library lib;
    bool ok = true;
    if (name == "eigen")
      lib = eigenLibrary();
    else if (name == "engine")
      lib = engineLibrary();
    else if (name == "openblas-pthread" || name == "openblas-openmp")
      ok = openblasLibrary(name.substr(9), lib);
    else if (name == "blis")
      ok = blisLibrary(lib);
    else if (name == "dnnl")
      ok = dnnlLibrary(lib);
    else
      ok = false;
    if (!ok) {
      std::printf("%-16s absent (not installed or symbols missing): skipped\n", name.c_str());
      continue;
    }
    std::printf("%-16s %s\n", lib.name.c_str(), lib.detail.c_str());
    libs.push_back(std::move(lib));
  }
  for (int t : threadCounts)
    std::printf("peak f32 FMA estimate, %d thread(s): %.1f GFLOP/s\n", t, peakGflops(t));

  int64_t maxRows = 0, maxCols = 0;
  for (const Shape& s : kShapes) {
    maxRows = std::max(maxRows, s.rows);
    maxCols = std::max(maxCols, s.cols);
  }
  const int maxN = *std::max_element(ns.begin(), ns.end());
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(size_t(maxN) * maxCols), w(size_t(maxRows) * maxCols);
  std::vector<float> y(size_t(maxN) * maxRows);
  for (float& v : x) v = dist(rng);
  for (float& v : w) v = dist(rng);

  std::vector<Result> results;
  for (int threads : threadCounts) {
    ll::kern::ThreadPool pool(threads);
    // Libraries innermost: the figures of one (shape, n) are taken minutes apart at most, under
    // the same load from the machine's other users.
    for (int si = 0; si < int(std::size(kShapes)); ++si) {
      const Shape s = kShapes[si];
      for (int n : ns) {
        for (const Library& lib : libs) {
          for (const std::string& modeName : bench::splitList(modesArg)) {
            const char* mode = modeName.c_str();
            const bool panels = modeName == "panels";
            if (!panels && threads > 1 && !lib.threaded && !lib.engine) continue;
            if (lib.engine && panels) continue;  // the engine makes its own panels
            auto once = [&] {
              if (lib.engine) {
                ll::kern::CpuWeight weight;
                weight.type = ll::kern::QType::F32;
                weight.rows = s.rows;
                weight.cols = s.cols;
                weight.rowBytes = size_t(s.cols) * sizeof(float);
                weight.data = reinterpret_cast<const uint8_t*>(w.data());
                ll::kern::cpuMatmul(pool, weight, x.data(), y.data(), n);
                return;
              }
              if (!panels) {
                lib.setThreads(threads);
                lib.gemm(n, s.rows, s.cols, x.data(), w.data(), y.data(), s.rows);
                return;
              }
              lib.setThreads(1);
              const int64_t panel = panelRows > 0 ? panelRows : ll::kern::f32PanelRows(s.rows);
              pool.run((s.rows + panel - 1) / panel, [&](int64_t p, int) {
                lib.setThreads(1);  // per calling thread for the OpenMP runtimes
                const int64_t r0 = p * panel, pr = std::min(panel, s.rows - r0);
                lib.gemm(n, pr, s.cols, x.data(), w.data() + r0 * s.cols, y.data() + r0, s.rows);
              });
            };
            once();
            const double err = checkResult(n, s, x.data(), w.data(), y.data());
            // Best wall time, and best process CPU time / threads: on a shared machine the latter
            // is what the threads would take with their cores to themselves (spinning counts).
            double best = 1e30, bestCpu = 1e30, total = 0;
            for (int rep = 0; rep < 2 || total < minTime; ++rep) {
              const auto t0 = Clock::now();
              const double c0 = cpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
              once();
              const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
              bestCpu = std::min(bestCpu, (cpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - c0) / threads);
              best = std::min(best, dt);
              total += dt;
              if (rep >= 20) break;
            }
            const double flops = 2.0 * n * s.rows * s.cols;
            const double gf = flops / best / 1e9, gfCpu = flops / bestCpu / 1e9;
            std::printf(
                "%-16s %-6s %5ldx%-5ld n %3d threads %d: %7.1f GFLOP/s wall, %7.1f on CPU time "
                "(rel err %.1e)\n",
                lib.name.c_str(), mode, long(s.rows), long(s.cols), n, threads, gf, gfCpu, err);
            if (err > 1e-4) std::printf("  WRONG RESULT from %s\n", lib.name.c_str());
            results.push_back({lib.name + " " + mode, si, n, threads, gf, gfCpu});
          }
        }
      }
    }
  }

  // Markdown tables per thread count (wall, then CPU time): rows = (shape, n), columns = library
  // and mode.
  for (int threads : threadCounts)
    for (const bool onCpu : {false, true}) {
      std::vector<std::string> cols;
      for (const Result& r : results)
        if (r.threads == threads && std::find(cols.begin(), cols.end(), r.column) == cols.end())
          cols.push_back(r.column);
      std::printf("\n%d thread(s), GFLOP/s on %s\n\n| W (rows x cols) | n |", threads,
                  onCpu ? "CPU time / threads" : "wall time");
      for (auto& c : cols) std::printf(" %s |", c.c_str());
      std::printf("\n|---|---|");
      for (size_t c = 0; c < cols.size(); ++c) std::printf("---|");
      std::printf("\n");
      for (int si = 0; si < int(std::size(kShapes)); ++si)
        for (int n : ns) {
          std::printf("| %ldx%ld | %d |", long(kShapes[si].rows), long(kShapes[si].cols), n);
          for (auto& c : cols) {
            double v = -1;
            for (const Result& r : results)
              if (r.threads == threads && r.column == c && r.shape == si && r.n == n)
                v = onCpu ? r.gflopsCpu : r.gflops;
            if (v < 0)
              std::printf(" - |");
            else
              std::printf(" %.1f |", v);
          }
          std::printf("\n");
        }
    }
  return 0;
}
