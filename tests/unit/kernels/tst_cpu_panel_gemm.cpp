// The precise AVX-512 panel GEMM (kernels/cpu/cpu_panel_gemm.h): bit-identical to its scalar
// reference on odd shapes for f32, f16, Q8_0 and Q4_K weights, close to a double-precision
// product, leaves the output's other columns alone, and gives a row the same bits whatever the
// number of rows in the call (prefix reuse recomputes rows in short calls).
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu_weight_fixtures.h"
#include "kernels/cpu/cpu_panel_gemm.h"
#include "kernels/quant.h"
#include "lltest.h"

using namespace ll::kern;
using cputest::makeWeight;
using cputest::randoms;

namespace {}  // namespace

// Every tail: n around the 12-row tile, weight rows around the 32-row strip, columns not a
// multiple of 16 or of the 256-column block; output rows wider than the product.
LL_TEST(kernelEqualsItsReference) {
  if (!panelGemmAvailable()) QSKIP("this CPU has no AVX-512F: the panel GEMM is not used here");
  struct Case {
    QType type;
    int64_t cols;
  };
  for (const Case c : {Case{QType::F32, 7}, Case{QType::F32, 300}, Case{QType::F16, 528},
                       Case{QType::Q8_0, 2048}, Case{QType::Q8_0, 96}, Case{QType::Q4_K, 512}}) {
    for (const int64_t rows : {int64_t(1), int64_t(31), int64_t(33), int64_t(100)}) {
      const auto vals = randoms(size_t(rows + 3) * c.cols, 2);
      std::vector<uint8_t> bytes;
      const CpuWeight w = makeWeight(c.type, rows + 3, c.cols, vals, bytes, 7);
      for (const int n : {1, 5, 12, 13, 40}) {
        const auto x = randoms(size_t(n) * c.cols, 3 + n);
        std::vector<float> xp(packedRowsFloats(n, c.cols));
        packRows(n, c.cols, x.data(), xp.data(), 0, packedRowBlocks(n));
        const int64_t ldy = rows + 5;
        std::vector<float> got(size_t(n) * ldy, -7.0f), want(size_t(n) * ldy, -7.0f);
        panelGemm(xp.data(), n, w, 3, rows, got.data(), ldy);
        panelGemmReference(x.data(), n, w, 3, rows, want.data(), ldy);
        const std::string what = std::string(qtypeName(c.type)) + " cols " +
                                 std::to_string(c.cols) + " rows " + std::to_string(rows) + " n " +
                                 std::to_string(n);
        QVERIFY2(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0,
                 what + ": the kernel differs from its reference");
        for (int i = 0; i < n; ++i)
          for (int64_t j = rows; j < ldy; ++j)
            QVERIFY2(got[size_t(i) * ldy + j] == -7.0f, what + ": wrote past the product");
      }
    }
  }
}

// Every tile height (1-12 rows in the last row block) after one or two full row blocks, whose
// last strip prefetches the next block's activations; full strips (the unmasked write-back) beside
// a partial last one; one, two and four 256-column blocks (the tiles' sums added block by block).
LL_TEST(everyTileHeightEqualsTheReference) {
  if (!panelGemmAvailable()) QSKIP("this CPU has no AVX-512F: the panel GEMM is not used here");
  struct Case {
    QType type;
    int64_t rows, cols;
  };
  for (const Case c : {Case{QType::F32, 64, 256}, Case{QType::F32, 71, 517},
                       Case{QType::Q8_0, 96, 800}, Case{QType::F16, 39, 1024}}) {
    const auto vals = randoms(size_t(c.rows) * c.cols, 60);
    std::vector<uint8_t> bytes;
    const CpuWeight w = makeWeight(c.type, c.rows, c.cols, vals, bytes, 5);
    for (int n = 1; n <= 36; ++n) {
      const auto x = randoms(size_t(n) * c.cols, 70 + n);
      std::vector<float> xp(packedRowsFloats(n, c.cols));
      packRows(n, c.cols, x.data(), xp.data(), 0, packedRowBlocks(n));
      std::vector<float> got(size_t(n) * c.rows), want(size_t(n) * c.rows);
      panelGemm(xp.data(), n, w, 0, c.rows, got.data(), c.rows);
      panelGemmReference(x.data(), n, w, 0, c.rows, want.data(), c.rows);
      QVERIFY2(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0,
               std::string(qtypeName(c.type)) + " rows " + std::to_string(c.rows) + " cols " +
                   std::to_string(c.cols) + " n " + std::to_string(n) +
                   ": the kernel differs from its reference");
    }
  }
}

LL_TEST(closeToDoubleProduct) {
  if (!panelGemmAvailable()) QSKIP("this CPU has no AVX-512F: the panel GEMM is not used here");
  const int n = 29;
  const int64_t rows = 70, cols = 1000;
  const auto x = randoms(size_t(n) * cols, 11), vals = randoms(size_t(rows) * cols, 12);
  std::vector<uint8_t> bytes;
  const CpuWeight w = makeWeight(QType::F32, rows, cols, vals, bytes, 1);
  std::vector<float> xp(packedRowsFloats(n, cols)), y(size_t(n) * rows);
  packRows(n, cols, x.data(), xp.data(), 0, packedRowBlocks(n));
  panelGemm(xp.data(), n, w, 0, rows, y.data(), rows);
  for (int i = 0; i < n; ++i)
    for (int64_t j = 0; j < rows; ++j) {
      double ref = 0, mag = 0;
      for (int64_t k = 0; k < cols; ++k) {
        const double p = double(x[size_t(i) * cols + k]) * vals[size_t(j) * cols + k];
        ref += p;
        mag += std::fabs(p);
      }
      QVERIFY2(std::fabs(y[size_t(i) * rows + j] - ref) <= 1e-6 * mag,
               std::to_string(y[size_t(i) * rows + j]) + " vs " + std::to_string(ref));
    }
}

// Rows of a 64-row call equal the same rows computed in calls of 1..40 rows from any offset.
LL_TEST(rowsIndependentOfTheRowCount) {
  if (!panelGemmAvailable()) QSKIP("this CPU has no AVX-512F: the panel GEMM is not used here");
  const int64_t rows = 96, cols = 2048;
  const int kFull = 64;
  const auto x = randoms(size_t(kFull) * cols, 21), vals = randoms(size_t(rows) * cols, 22);
  std::vector<uint8_t> bytes;
  const CpuWeight w = makeWeight(QType::Q8_0, rows, cols, vals, bytes, 1);
  std::vector<float> xp(packedRowsFloats(kFull, cols)), full(size_t(kFull) * rows), part;
  packRows(kFull, cols, x.data(), xp.data(), 0, packedRowBlocks(kFull));
  panelGemm(xp.data(), kFull, w, 0, rows, full.data(), rows);
  for (const int n : {1, 2, 13, 32, 40})
    for (const int off : {0, 5, kFull - n}) {
      std::vector<float> sub(packedRowsFloats(n, cols));
      packRows(n, cols, x.data() + size_t(off) * cols, sub.data(), 0, packedRowBlocks(n));
      part.assign(size_t(n) * rows, 0.0f);
      panelGemm(sub.data(), n, w, 0, rows, part.data(), rows);
      QVERIFY2(std::memcmp(part.data(), full.data() + size_t(off) * rows,
                           part.size() * sizeof(float)) == 0,
               std::to_string(n) + " rows from row " + std::to_string(off) +
                   " differ from the same rows in a call of 64");
    }
}

// Q8_0 and F16 strips are decoded straight into registers (packStripDirect): every block's own
// scale, F16 values of every magnitude (subnormals included), columns past the first 256-column
// block and a partial last strip (the generic path) beside full ones.
LL_TEST(directStripsEqualTheReference) {
  if (!panelGemmAvailable()) QSKIP("this CPU has no AVX-512F: the panel GEMM is not used here");
  std::mt19937 rng(41);
  for (const QType type : {QType::Q8_0, QType::F16}) {
    const int64_t rows = 75, cols = 544;  // 2 full strips + 11 rows; 256 + 256 + 32 columns
    CpuWeight w;
    w.type = type;
    w.rows = rows;
    w.cols = cols;
    w.rowBytes = rowBytes(type, cols);
    std::vector<uint8_t> bytes(w.rowBytes * size_t(rows));
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t* dst = bytes.data() + size_t(r) * w.rowBytes;
      if (type == QType::Q8_0) {
        for (int64_t b = 0; b < cols / 32; ++b) {
          const uint16_t d =
              fp32ToFp16(std::ldexp(1.0f + float(rng() % 1000) / 1000.0f, int(rng() % 20) - 14));
          std::memcpy(dst + 34 * b, &d, 2);
          for (int j = 0; j < 32; ++j) dst[34 * b + 2 + j] = uint8_t(rng());
        }
      } else {
        for (int64_t c = 0; c < cols; ++c) {
          uint16_t h = uint16_t(rng());
          if ((h & 0x7c00) == 0x7c00) h &= 0x83ff;  // no inf / NaN: a subnormal instead
          std::memcpy(dst + 2 * c, &h, 2);
        }
      }
    }
    w.data = bytes.data();
    for (const int n : {1, 12, 30}) {
      const auto x = randoms(size_t(n) * cols, 50 + n);
      std::vector<float> xp(packedRowsFloats(n, cols));
      packRows(n, cols, x.data(), xp.data(), 0, packedRowBlocks(n));
      std::vector<float> got(size_t(n) * rows), want(size_t(n) * rows);
      panelGemm(xp.data(), n, w, 0, rows, got.data(), rows);
      panelGemmReference(x.data(), n, w, 0, rows, want.data(), rows);
      QVERIFY2(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0,
               std::string(qtypeName(type)) + " n " + std::to_string(n) +
                   ": the kernel differs from its reference");
    }
  }
}

LL_TEST_MAIN("tst_cpu_panel_gemm")
