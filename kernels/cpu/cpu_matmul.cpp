#include "kernels/cpu/cpu_matmul.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_dequant.h"
#include "kernels/cpu/cpu_gemv.h"
#include "kernels/cpu/cpu_panel_gemm.h"
#include "kernels/cpu/cpu_sgemm.h"
#include "kernels/cpu/fast_matmul.h"
#include "kernels/cpu/scratch.h"

namespace ll::kern {
namespace {

// Output columns (weight rows) are split into panels whose boundaries depend only on the shapes,
// never on the thread count: a GEMM sums a panel's edge columns in another order than its body,
// so thread-count-dependent panels made results differ (~1e-6 relative) between pool sizes. Each
// panel is one single-threaded sgemmNT call (the build's BLAS library or Eigen).
// About rows / kPanelSplit rows per panel: two or more panels per thread for up to 8 threads.
constexpr int64_t kPanelSplit = 16;

}  // namespace

// g = silu(g) * u through aligned blocks padded to whole SIMD packets, so every element takes
// Eigen's vector exp whatever its address or the segment's length: the fused op then gives the same
// value for a row whether it ran in a panel of a long prompt or alone (prefix reuse, generation).
void siluMul(float* g, const float* u, int64_t len) {
  constexpr int64_t kBlock = 256;
  alignas(64) float gb[kBlock], ub[kBlock];
  for (int64_t b = 0; b < len; b += kBlock) {
    const int64_t m = std::min(kBlock, len - b), mp = (m + 15) / 16 * 16;
    std::memcpy(gb, g + b, size_t(m) * sizeof(float));
    std::memcpy(ub, u + b, size_t(m) * sizeof(float));
    std::fill(gb + m, gb + mp, 0.0f);
    std::fill(ub + m, ub + mp, 0.0f);
    Eigen::Map<Eigen::ArrayXf, Eigen::Aligned64> G(gb, mp);
    Eigen::Map<const Eigen::ArrayXf, Eigen::Aligned64> U(ub, mp);
    G = G / (1.0f + (-G).exp()) * U;
    std::memcpy(g + b, gb, size_t(m) * sizeof(float));
  }
}

namespace {

// Panels of weight rows dequantized into per-thread scratch. Few activation rows (generation):
// small panels that stay in L1/L2, effectively dot products. Many rows: panels of up to 256
// rows amortise the dequantization over n and let the GEMM block well (measured on Zen 4:
// 64-128 rows lose ~10% to repacking x, 512 rows fall out of L2); about rows / kPanelSplit.
int64_t quantPanelRows(int64_t rows, int64_t cols, int n) {
  int64_t panel = 16;
  if (n > 8) {
    const int64_t perPanel = (rows + kPanelSplit - 1) / kPanelSplit;
    panel = std::clamp<int64_t>((perPanel + 15) / 16 * 16, 32, 256);
  }
  return std::max<int64_t>(4, std::min<int64_t>(panel, (int64_t(1) << 20) / cols));  // <= 4 MiB
}

// From this many activation rows an AVX-512 CPU computes products with the panel GEMM
// (cpu_panel_gemm.h), whose value for a row is the same in every call of kPanelGemmMinRows rows or
// more: the products of the rows a keystroke recomputes with prefix reuse (two or more), or a
// trace recomputes for a view, then have the bits the prefill gave them. One row (generation) takes
// the fused GEMV or Eigen, where packing each weight panel would cost more than the product (Q8_0
// decode 5.3 against 8.8 tok/s). Two rows and more cost less on the panel GEMM than dequantizing
// panels for Eigen, which repacks them: a 2-row keystroke on the 1.1B model at 512 tokens in
// 0.16-0.22 s against 0.27-0.37 s (Q8_0), 0.25-0.27 against 0.29-0.30 s (F16); 12-24 rows 1.2-1.6x
// faster (tests/bench/RESULTS.md).
constexpr int kPanelGemmMinRows = 2;

bool usePanelGemm(int n) {
  return n >= kPanelGemmMinRows && panelGemmAvailable();
}

// x packed for panelGemm once per product, in the calling thread's slot-2 scratch, the row
// blocks split over the pool.
const float* packedActivations(ThreadPool& pool, const float* x, int n, int64_t cols) {
  float* xp = threadScratch(packedRowsFloats(n, cols), 2);
  pool.run(packedRowBlocks(n), [&](int64_t b, int) { packRows(n, cols, x, xp, b, b + 1); });
  return xp;
}

}  // namespace

int64_t panelGemmRows(int64_t rows) {
  const int64_t perPanel = (rows + kPanelSplit - 1) / kPanelSplit;
  return std::clamp<int64_t>((perPanel + kPanelTileCols - 1) / kPanelTileCols * kPanelTileCols,
                             kPanelTileCols, 256);
}

int64_t f32PanelRows(int64_t rows) {
  return std::clamp<int64_t>((rows + kPanelSplit - 1) / kPanelSplit, 32, 256);
}

void dequantizeRows(const CpuWeight& w, int64_t r0, int64_t count, float* dst) {
  for (int64_t r = 0; r < count; ++r)
    cpuDequantizeRow(w.type, w.rowPtr(r0 + r), dst + size_t(r) * w.cols, w.cols);
}

void cpuMatmul(ThreadPool& pool, const CpuWeight& w, const float* x, float* y, int n,
               const CpuFeatures* fast) {
  if (n <= 0) return;
  if (fast && fastMatmul(pool, *fast, w, x, y, n)) return;
  const int64_t rows = w.rows, cols = w.cols;

  if (usePanelGemm(n)) {
    const float* xp = packedActivations(pool, x, n, cols);
    const int64_t panel = panelGemmRows(rows);
    pool.run((rows + panel - 1) / panel, [&](int64_t p, int) {
      const int64_t r0 = p * panel;
      panelGemm(xp, n, w, r0, std::min(panel, rows - r0), y + r0, rows);
    });
    return;
  }

  if (w.type == QType::F32) {
    // Weight used in place.
    const float* W = reinterpret_cast<const float*>(w.data);
    const int64_t panel = f32PanelRows(rows);
    pool.run((rows + panel - 1) / panel, [&](int64_t p, int) {
      const int64_t r0 = p * panel, pr = std::min(panel, rows - r0);
      sgemmNT(n, pr, cols, x, W + size_t(r0) * cols, y + r0, rows);
    });
    return;
  }

  if (n == 1 && hasFusedGemv(w.type)) {
    // Generation: dequantize-and-dot straight from the weight bytes, rows split over threads.
    std::vector<float> xSums(size_t(cols / 32));
    for (size_t b = 0; b < xSums.size(); ++b) {
      float s = 0.0f;
      for (int j = 0; j < 32; ++j) s += x[b * 32 + j];
      xSums[b] = s;
    }
    pool.parallelFor(
        rows, 64, [&](int64_t r0, int64_t r1, int) { fusedGemv(w, x, xSums.data(), y, r0, r1); });
    return;
  }

  const int64_t panel = quantPanelRows(rows, cols, n);
  const int64_t nPanels = (rows + panel - 1) / panel;
  pool.run(nPanels, [&](int64_t p, int) {
    const int64_t r0 = p * panel, pr = std::min(panel, rows - r0);
    float* buf = threadScratch(size_t(pr) * cols);
    dequantizeRows(w, r0, pr, buf);
    sgemmNT(n, pr, cols, x, buf, y + r0, rows);
  });
}

void cpuMatmulSwiglu(ThreadPool& pool, const CpuWeight& up, const float* x, float* gate, int n,
                     const CpuFeatures* fast) {
  if (n <= 0) return;
  if (fast && fastMatmulSwiglu(pool, *fast, up, x, gate, n)) return;
  const int64_t rows = up.rows, cols = up.cols;
  if (n <= 8 && !usePanelGemm(n)) {
    // Generation: the product is small; the plain matmul keeps its fused dequantize-and-dot path.
    // It lands in the calling thread's slot-1 scratch (cpuMatmul's tasks use slot 0 only), so the
    // per-token loop allocates nothing.
    float* u = threadScratch(size_t(n) * rows, 1);
    cpuMatmul(pool, up, x, u, n);
    for (int i = 0; i < n; ++i) siluMul(gate + size_t(i) * rows, u + size_t(i) * rows, rows);
    return;
  }
  if (usePanelGemm(n)) {
    const float* xp = packedActivations(pool, x, n, cols);
    const int64_t panel = panelGemmRows(rows);
    const size_t stride = alignedStride(size_t(panel));
    pool.run((rows + panel - 1) / panel, [&](int64_t p, int) {
      const int64_t r0 = p * panel, pr = std::min(panel, rows - r0);
      float* prod = threadScratch(size_t(n) * stride, 1);
      panelGemm(xp, n, up, r0, pr, prod, int64_t(stride));
      for (int i = 0; i < n; ++i)
        siluMul(gate + size_t(i) * rows + r0, prod + size_t(i) * stride, pr);
    });
    return;
  }
  const bool f32 = up.type == QType::F32;
  const int64_t panel = f32 ? f32PanelRows(rows) : quantPanelRows(rows, cols, n);
  const int64_t nPanels = (rows + panel - 1) / panel;
  const size_t stride = alignedStride(size_t(panel));
  pool.run(nPanels, [&](int64_t p, int) {
    const int64_t r0 = p * panel, pr = std::min(panel, rows - r0);
    // slot 0: the dequantized panel, slot 1: its product with x ([n, pr], rows 64-byte aligned).
    const float* wp = reinterpret_cast<const float*>(up.data) + size_t(r0) * cols;
    if (!f32) {
      float* buf = threadScratch(size_t(pr) * cols);
      dequantizeRows(up, r0, pr, buf);
      wp = buf;
    }
    float* prod = threadScratch(size_t(n) * stride, 1);
    sgemmNT(n, pr, cols, x, wp, prod, int64_t(stride));
    for (int i = 0; i < n; ++i)
      siluMul(gate + size_t(i) * rows + r0, prod + size_t(i) * stride, pr);
  });
}

}  // namespace ll::kern
