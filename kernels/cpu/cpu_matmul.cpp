#include "kernels/cpu/cpu_matmul.h"

#include <immintrin.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstring>

namespace ll::kern {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMat>;
using OutMap = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;

void f16Row(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
  for (; i < n; ++i) dst[i] = fp16ToFp32(src[i]);
}

void bf16Row(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = uint32_t(src[i]) << 16;
    std::memcpy(dst + i, &bits, 4);
  }
}

// Scratch per worker, grown on demand and kept across calls (thread_local: one per pool thread).
float* scratch(size_t floats) {
  thread_local std::vector<float> buf;
  if (buf.size() < floats) buf.resize(floats);
  return buf.data();
}

}  // namespace

void dequantizeRows(const CpuWeight& w, int64_t r0, int64_t count, float* dst) {
  for (int64_t r = 0; r < count; ++r) {
    const uint8_t* src = w.rowPtr(r0 + r);
    float* d = dst + size_t(r) * w.cols;
    switch (w.type) {
      case QType::F32:
        std::memcpy(d, src, size_t(w.cols) * 4);
        break;
      case QType::F16:
        f16Row(reinterpret_cast<const uint16_t*>(src), d, w.cols);
        break;
      case QType::BF16:
        bf16Row(reinterpret_cast<const uint16_t*>(src), d, w.cols);
        break;
      default:
        dequantizeRow(w.type, src, d, w.cols);
        break;
    }
  }
}

void cpuMatmul(ThreadPool& pool, const CpuWeight& w, const float* x, float* y, int n) {
  if (n <= 0) return;
  const int64_t rows = w.rows, cols = w.cols;
  ConstMap X(x, n, cols);
  OutMap Y(y, n, rows, Eigen::OuterStride<>(rows));

  if (w.type == QType::F32) {
    // Weight used in place; split output columns (weight rows) across threads.
    ConstMap W(reinterpret_cast<const float*>(w.data), rows, cols);
    const int64_t grain = n == 1 ? 64 : 32;
    pool.parallelFor(rows, grain, [&](int64_t r0, int64_t r1, int) {
      Y.middleCols(r0, r1 - r0).noalias() = X * W.middleRows(r0, r1 - r0).transpose();
    });
    return;
  }

  // Panels of weight rows dequantized into per-thread scratch. Few activation rows (generation):
  // small panels that stay in L1/L2, effectively dot products. Many rows: panels of up to 256
  // rows amortise the dequantization over n and let Eigen's GEMM block well (measured on Zen 4:
  // 64-128 rows lose ~10% to repacking x, 512 rows fall out of L2), but at least two panels per
  // thread so all threads get work.
  int64_t panel = 16;
  if (n > 8) {
    const int64_t perThread = (rows + 2 * pool.size() - 1) / (2 * pool.size());
    panel = std::clamp<int64_t>((perThread + 15) / 16 * 16, 32, 256);
  }
  panel = std::max<int64_t>(4, std::min<int64_t>(panel, (int64_t(1) << 20) / cols));  // <= 4 MiB
  const int64_t nPanels = (rows + panel - 1) / panel;
  pool.run(nPanels, [&](int64_t p, int) {
    const int64_t r0 = p * panel, pr = std::min(panel, rows - r0);
    float* buf = scratch(size_t(pr) * cols);
    dequantizeRows(w, r0, pr, buf);
    ConstMap P(buf, pr, cols);
    Y.middleCols(r0, pr).noalias() = X * P.transpose();
  });
}

}  // namespace ll::kern
