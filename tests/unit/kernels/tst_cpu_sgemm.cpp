// The CPU backend's f32 GEMM (kernels/cpu/cpu_sgemm.h) through the build's BLAS library: agrees
// with a double-precision product on odd shapes and strides, keeps the library single-threaded
// inside our pool, names the library in the backend's name, and leaves cpuMatmul /
// cpuMatmulSwiglu bit-identical across thread counts for f32, f16 and Q8_0 weights, and, on the
// panel GEMM, a short call's rows bit-identical to the same rows of a long one.
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu_weight_fixtures.h"
#include "kernels/backends.h"
#include "kernels/cpu/cpu_matmul.h"
#include "kernels/cpu/cpu_panel_gemm.h"
#include "kernels/cpu/cpu_sgemm.h"
#include "kernels/quant.h"
#include "lltest.h"

using namespace ll::kern;
using cputest::makeWeight;
using cputest::randoms;

namespace {}  // namespace

// Odd shapes (edge tiles in every dimension) and an output row stride wider than the rows.
LL_TEST(sgemmMatchesDoubleProduct) {
  struct Case {
    int n;
    int64_t rows, cols, ldy;
  };
  for (const Case c :
       {Case{1, 1, 7, 1}, Case{3, 33, 64, 40}, Case{17, 200, 300, 256}, Case{64, 129, 2048, 129}}) {
    const auto x = randoms(size_t(c.n) * c.cols, 1), w = randoms(size_t(c.rows) * c.cols, 2);
    std::vector<float> y(size_t(c.n) * c.ldy, -7.0f);
    sgemmNT(c.n, c.rows, c.cols, x.data(), w.data(), y.data(), c.ldy);
    for (int i = 0; i < c.n; ++i)
      for (int64_t j = 0; j < c.ldy; ++j) {
        const float got = y[size_t(i) * c.ldy + j];
        if (j >= c.rows) {  // past the rows: untouched
          QCOMPARE(got, -7.0f);
          continue;
        }
        double ref = 0, mag = 0;
        for (int64_t k = 0; k < c.cols; ++k) {
          ref += double(x[size_t(i) * c.cols + k]) * w[size_t(j) * c.cols + k];
          mag += std::fabs(double(x[size_t(i) * c.cols + k]) * w[size_t(j) * c.cols + k]);
        }
        QVERIFY2(std::fabs(got - ref) <= 1e-6 * mag + 1e-30,
                 "n " + std::to_string(c.n) + " rows " + std::to_string(c.rows) + " cols " +
                     std::to_string(c.cols) + ": " + std::to_string(got) + " vs " +
                     std::to_string(ref));
      }
  }
}

// The library's own threads stay off in every thread that ran a GEMM in the pool (OpenMP runtimes
// keep the setting per thread): they would oversubscribe it.
LL_TEST(libraryStaysSingleThreaded) {
  ThreadPool pool(2);
  const auto x = randoms(size_t(64) * 256, 3), vals = randoms(size_t(512) * 256, 4);
  std::vector<uint8_t> bytes;
  const CpuWeight w = makeWeight(QType::F32, 512, 256, vals, bytes);
  std::vector<float> y(size_t(64) * 512);
  cpuMatmul(pool, w, x.data(), y.data(), 64);
  std::atomic<int> checked{0};
  pool.run(16, [&](int64_t t, int) {
    // 32 rows against a 64-row panel: a product the library computes (Eigen takes smaller ones).
    std::vector<float> out(size_t(32) * 64);
    sgemmNT(32, 64, 256, x.data(), vals.data() + size_t(t % 8) * 64 * 256, out.data(), 64);
    if (sgemmLibraryThreads() != 1) throw std::runtime_error("a pool thread is multi-threaded");
    ++checked;
  });
  QCOMPARE(checked.load(), 16);
}

// A row's product does not depend on how many rows the library's call had: rows that prefix reuse
// or a host trace recomputes in a shorter call match the prompt's bit for bit where both calls
// reach the library (oneDNN 2.6 from 16 rows; sgemmNT hands it 32 or more).
LL_TEST(rowsIndependentOfTheRowCount) {
  if (std::string(LL_TEST_BLAS_PREFIX) != "oneDNN")
    QSKIP(
        "only the oneDNN path is row-count invariant at every shape (Eigen and OpenBLAS pick "
        "other kernels for some row counts)");
  struct Shape {
    int64_t rows, cols;
  };
  for (const Shape s : {Shape{64, 64}, Shape{128, 288}, Shape{256, 2048}}) {
    const int kFull = 64;
    const auto x = randoms(size_t(kFull) * s.cols, 11), w = randoms(size_t(s.rows) * s.cols, 12);
    std::vector<float> full(size_t(kFull) * s.rows), part;
    sgemmNT(kFull, s.rows, s.cols, x.data(), w.data(), full.data(), s.rows);
    for (int n = 32; n <= 40; ++n)
      for (const int off : {0, 5, kFull - n}) {
        part.assign(size_t(n) * s.rows, 0.0f);
        sgemmNT(n, s.rows, s.cols, x.data() + size_t(off) * s.cols, w.data(), part.data(), s.rows);
        QVERIFY2(std::memcmp(part.data(), full.data() + size_t(off) * s.rows,
                             part.size() * sizeof(float)) == 0,
                 std::to_string(n) + " rows from row " + std::to_string(off) + " of " +
                     std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                     " differ from the same rows in a call of 64");
      }
  }
}

// The backend's name says what computes its f32 products (the window and the CLI show it): the
// panel GEMM on an AVX-512 CPU, which leaves the library nothing, else the library. The
// description names the library either way.
LL_TEST(backendNamesTheLibrary) {
  const std::string lib = sgemmLibrary();
  QVERIFY(!lib.empty());
  QVERIFY2(lib.rfind(LL_TEST_BLAS_PREFIX, 0) == 0,
           lib + " is not the library the build chose (" LL_TEST_BLAS_PREFIX ")");
  auto b = makeCpuBackend(2);
  QCOMPARE(b->name(), "cpu (" + cpuGemmName() + ")");
  QCOMPARE(b->name().find("AVX-512 panel GEMM") != std::string::npos, panelGemmAvailable());
  QVERIFY2((b->name().find(lib) != std::string::npos) == !panelGemmAvailable(), b->name());
  QVERIFY2(b->deviceDescription().find(lib) != std::string::npos, b->deviceDescription());
}

// Panels depend on the shapes only: 1, 2 and 3 threads give bit-identical products, for f32 weights
// used in place and f16 / Q8_0 weights dequantized panel by panel, plain and fused with SwiGLU.
// A row computed alone (generation) agrees with the same row inside a long prompt.
LL_TEST(identicalAcrossThreadCounts) {
  const int64_t rows = 1000, cols = 320;
  const auto vals = randoms(size_t(rows) * cols, 5);
  for (const QType type : {QType::F32, QType::F16, QType::Q8_0}) {
    std::vector<uint8_t> bytes;
    const CpuWeight w = makeWeight(type, rows, cols, vals, bytes);
    for (const int n : {1, 8, 40}) {
      const auto x = randoms(size_t(n) * cols, 6 + n);
      std::vector<float> first, firstGate;
      for (const int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        std::vector<float> y(size_t(n) * rows);
        cpuMatmul(pool, w, x.data(), y.data(), n);
        auto gate = randoms(size_t(n) * rows, 9);
        cpuMatmulSwiglu(pool, w, x.data(), gate.data(), n);
        if (first.empty()) {
          first = y;
          firstGate = gate;
          continue;
        }
        const std::string what = std::string(qtypeName(type)) + " n " + std::to_string(n) +
                                 " threads " + std::to_string(threads);
        QVERIFY2(std::memcmp(y.data(), first.data(), y.size() * sizeof(float)) == 0,
                 what + ": matmul differs from 1 thread");
        QVERIFY2(std::memcmp(gate.data(), firstGate.data(), gate.size() * sizeof(float)) == 0,
                 what + ": swiglu differs from 1 thread");
      }
      if (n == 40) {
        // The last row alone, as generation computes it after this prompt.
        ThreadPool pool(2);
        std::vector<float> alone(static_cast<size_t>(rows));
        cpuMatmul(pool, w, x.data() + size_t(n - 1) * cols, alone.data(), 1);
        for (int64_t j = 0; j < rows; ++j) {
          const float a = alone[size_t(j)], b = first[size_t(n - 1) * rows + j];
          QVERIFY2(std::fabs(a - b) <= 1e-5f * std::max(1.0f, std::fabs(b)),
                   std::string(qtypeName(type)) + ": row alone " + std::to_string(a) +
                       " vs in the prompt " + std::to_string(b));
        }
      }
    }
  }
}

// One row (generation) takes the fused GEMV where the type has one (F16, BF16, Q8_0, Q4_K): equal
// to the dequantized weights' dot product in double to float rounding, at widths with a tail past
// the kernels' 32- and 8-element steps.
LL_TEST(oneRowMatchesTheDequantizedDot) {
  struct Case {
    QType type;
    int64_t cols;
  };
  const std::vector<Case> cases = {{QType::F16, 40},   {QType::F16, 45},  {QType::F16, 331},
                                   {QType::BF16, 40},  {QType::BF16, 45}, {QType::BF16, 331},
                                   {QType::Q8_0, 320}, {QType::Q4_K, 512}};
  const int64_t rows = 70;
  ThreadPool pool(2);
  for (const Case& c : cases) {
    const std::string what = std::string(qtypeName(c.type)) + " cols " + std::to_string(c.cols);
    std::vector<uint8_t> bytes;
    const CpuWeight w = makeWeight(c.type, rows, c.cols, randoms(size_t(rows) * c.cols, 21), bytes);
    const auto x = randoms(size_t(c.cols), 22);
    std::vector<float> y(static_cast<size_t>(rows)), deq(size_t(rows) * c.cols);
    cpuMatmul(pool, w, x.data(), y.data(), 1);
    dequantizeRows(w, 0, rows, deq.data());
    for (int64_t r = 0; r < rows; ++r) {
      double ref = 0.0, mag = 0.0;
      for (int64_t k = 0; k < c.cols; ++k) {
        ref += double(deq[size_t(r) * c.cols + k]) * x[size_t(k)];
        mag += std::fabs(double(deq[size_t(r) * c.cols + k]) * x[size_t(k)]);
      }
      QVERIFY2(std::fabs(y[size_t(r)] - ref) <= 1e-5 * mag + 1e-7,
               what + " row " + std::to_string(r) + ": " + std::to_string(y[size_t(r)]) + " vs " +
                   std::to_string(ref));
    }
  }
}

// Prefix reuse recomputes a few rows (a keystroke: usually 1-3) and a trace recomputes query rows
// for a view; on an AVX-512 CPU those rows must have the bits the prefill gave them. Every call of
// 2 rows or more takes the panel GEMM: its rows equal the same rows of a 40-row call, plain and
// fused with SwiGLU, for f32, f16, Q8_0 and Q4_K weights with more columns than one panel block.
LL_TEST(shortCallsEqualTheirRowsInALongCall) {
  if (!panelGemmAvailable()) QSKIP("this CPU has no AVX-512F: the panel GEMM is not used here");
  const int64_t rows = 300;
  const int kLong = 40;
  ThreadPool pool(2);
  for (const QType type : {QType::F32, QType::F16, QType::Q8_0, QType::Q4_K}) {
    const int64_t cols = type == QType::F32 ? 300 : type == QType::F16 ? 528 : 2048;
    const auto vals = randoms(size_t(rows) * cols, 51);
    std::vector<uint8_t> bytes;
    const CpuWeight w = makeWeight(type, rows, cols, vals, bytes, 5);
    const auto x = randoms(size_t(kLong) * cols, 52);
    const auto gate0 = randoms(size_t(kLong) * rows, 53);
    std::vector<float> full(size_t(kLong) * rows), fullGate = gate0;
    cpuMatmul(pool, w, x.data(), full.data(), kLong);
    cpuMatmulSwiglu(pool, w, x.data(), fullGate.data(), kLong);
    for (const int n : {2, 3, 5, 8, 13, 31})
      for (const int off : {0, 7, kLong - n}) {
        std::vector<float> y(size_t(n) * rows);
        std::vector<float> gate(gate0.begin() + off * rows, gate0.begin() + (off + n) * rows);
        cpuMatmul(pool, w, x.data() + size_t(off) * cols, y.data(), n);
        cpuMatmulSwiglu(pool, w, x.data() + size_t(off) * cols, gate.data(), n);
        const std::string what = std::string(qtypeName(type)) + ": " + std::to_string(n) +
                                 " rows from row " + std::to_string(off);
        QVERIFY2(
            std::memcmp(y.data(), full.data() + size_t(off) * rows, y.size() * sizeof(float)) == 0,
            what + ": matmul differs from the same rows in a call of 40");
        QVERIFY2(std::memcmp(gate.data(), fullGate.data() + size_t(off) * rows,
                             gate.size() * sizeof(float)) == 0,
                 what + ": swiglu differs from the same rows in a call of 40");
      }
  }
}

LL_TEST_MAIN("tst_cpu_sgemm")
