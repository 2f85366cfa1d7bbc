// What the CPU kernel tests build their operands from: uniform random values and a CpuWeight of a
// given type over bytes the caller keeps (tst_cpu_panel_gemm, tst_cpu_sgemm, tst_cpu_attn_gemm).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_weight.h"
#include "kernels/quant.h"

namespace cputest {

inline std::vector<float> randoms(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// A weight of `type` (F32, F16, BF16, Q8_0 or Q4_K) over `bytes` with values near `vals` (Q8_0: one
// scale, 1/127; Q4_K: random nibbles and sub-block scales from `seed` under fixed super-block
// scales, `vals` unused).
inline ll::kern::CpuWeight makeWeight(ll::kern::QType type, int64_t rows, int64_t cols,
                                      const std::vector<float>& vals, std::vector<uint8_t>& bytes,
                                      uint32_t seed = 7) {
  using namespace ll::kern;
  CpuWeight w;
  w.type = type;
  w.rows = rows;
  w.cols = cols;
  w.rowBytes = rowBytes(type, cols);
  bytes.assign(w.rowBytes * size_t(rows), 0);
  std::mt19937 rng(seed);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = bytes.data() + size_t(r) * w.rowBytes;
    const float* src = vals.data() + size_t(r) * cols;
    if (type == QType::F32) {
      std::memcpy(dst, src, size_t(cols) * sizeof(float));
    } else if (type == QType::F16) {
      for (int64_t c = 0; c < cols; ++c) {
        const uint16_t h = fp32ToFp16(src[c]);
        std::memcpy(dst + 2 * c, &h, 2);
      }
    } else if (type == QType::BF16) {  // the high half of the f32, truncated
      for (int64_t c = 0; c < cols; ++c) {
        uint32_t bits;
        std::memcpy(&bits, &src[c], 4);
        const uint16_t h = uint16_t(bits >> 16);
        std::memcpy(dst + 2 * c, &h, 2);
      }
    } else if (type == QType::Q8_0) {  // blocks of an f16 scale and 32 int8
      for (int64_t b = 0; b < cols / 32; ++b) {
        const uint16_t d = fp32ToFp16(1.0f / 127.0f);
        std::memcpy(dst + 34 * b, &d, 2);
        for (int j = 0; j < 32; ++j)
          dst[34 * b + 2 + j] = uint8_t(int8_t(std::lround(src[b * 32 + j] * 127.0f)));
      }
    } else {  // Q4_K: d, dmin (f16), 12 bytes of 6-bit scales and mins, 128 bytes of nibbles
      for (int64_t b = 0; b < cols / 256; ++b) {
        uint8_t* blk = dst + 144 * b;
        const uint16_t d = fp32ToFp16(0.01f), dmin = fp32ToFp16(0.02f);
        std::memcpy(blk, &d, 2);
        std::memcpy(blk + 2, &dmin, 2);
        for (int j = 4; j < 144; ++j) blk[j] = uint8_t(rng());
      }
    }
  }
  w.data = bytes.data();
  return w;
}

}  // namespace cputest
