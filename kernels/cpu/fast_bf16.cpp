// Fast math mode, F16/BF16 weights: bf16 dot products (AVX512_BF16 vdpbf16ps) with f32
// accumulation, register-tiled over activation rows and weight strips, plus the scalar reference.
#include <immintrin.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/cpu_dequant.h"
#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_transpose.h"
#include "kernels/quant.h"

// Compiled for AVX-512 with BF16 whatever the build's -march: the caller checks the CPU first.
#define LL_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace ll::kern::fast {

uint16_t toBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);  // quiet NaN
  if ((u & 0x7f800000u) == 0) return uint16_t((u >> 16) & 0x8000u);         // zero, subnormal
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float fromBf16(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

namespace {

void toBf16Pairs(const float* src, int64_t cols, uint32_t* dst) {
  const int64_t whole = cols / 2;
  for (int64_t p = 0; p < whole; ++p)
    dst[p] = uint32_t(toBf16(src[2 * p])) | (uint32_t(toBf16(src[2 * p + 1])) << 16);
  if (cols % 2) dst[whole] = toBf16(src[cols - 1]);
}

// One tile: MR activation rows x NS strips, every accumulator in a register for the whole k loop.
template <int MR, int NS>
LL_BF16_TARGET void bf16Tile(const uint32_t* act, int64_t pairs, const uint32_t* strips,
                             int64_t stripStride, float* y, int64_t ldy, int64_t cols) {
  __m512 acc[MR][NS];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int s = 0; s < NS; ++s) acc[i][s] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    __m512bh w[NS];
#pragma GCC unroll 4
    for (int s = 0; s < NS; ++s)
      w[s] = (__m512bh)_mm512_loadu_si512(strips + s * stripStride + p * kStrip);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(act[i * pairs + p]));
#pragma GCC unroll 4
      for (int s = 0; s < NS; ++s) acc[i][s] = _mm512_dpbf16_ps(acc[i][s], a, w[s]);
    }
  }
#pragma GCC unroll 4
  for (int s = 0; s < NS; ++s) {
    const int64_t valid = std::min<int64_t>(kStrip, cols - s * kStrip);
    const __mmask16 m = __mmask16((1u << valid) - 1u);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) _mm512_mask_storeu_ps(y + i * ldy + s * kStrip, m, acc[i][s]);
  }
}

template <int NS>
LL_BF16_TARGET void bf16Rows(const uint32_t* act, int n, int64_t pairs, const uint32_t* strips,
                             int64_t stripStride, float* y, int64_t ldy, int64_t cols) {
  constexpr int kMR = NS == 2 ? 8 : 12;
  int i = 0;
  for (; i + kMR <= n; i += kMR)
    bf16Tile<kMR, NS>(act + i * pairs, pairs, strips, stripStride, y + i * ldy, ldy, cols);
  const uint32_t* a = act + i * pairs;
  float* yi = y + i * ldy;
  // The remainder takes a smaller tile: each lane's arithmetic is the same whatever the tile.
  switch (n - i) {
#define LL_TAIL(R)                                                 \
  case R:                                                          \
    bf16Tile<R, NS>(a, pairs, strips, stripStride, yi, ldy, cols); \
    break;
    LL_TAIL(1)
    LL_TAIL(2)
    LL_TAIL(3)
    LL_TAIL(4)
    LL_TAIL(5) LL_TAIL(6) LL_TAIL(7) LL_TAIL(8) LL_TAIL(9) LL_TAIL(10) LL_TAIL(11)
#undef LL_TAIL
        default : break;
  }
}

// 16 weight rows (valid of them) into one strip: 16 pairs of each row are loaded (and converted
// F16 -> bf16), transposed in registers and stored as 16 strip columns; the last pairs
// (cols % 32) go one by one.
LL_BF16_TARGET void bf16PackStrip(const CpuWeight& w, int64_t r0, int valid, uint32_t* strip) {
  const int64_t pairs = bf16Pairs(w.cols), groups = w.cols / 32;
  const bool f16 = w.type == QType::F16;
  __m512i r[kStrip];
  for (int64_t g = 0; g < groups; ++g) {
    for (int j = 0; j < kStrip; ++j) {
      if (j >= valid) {
        r[j] = _mm512_setzero_si512();
        continue;
      }
      const __m512i v = _mm512_loadu_si512(w.rowPtr(r0 + j) + g * 64);
      // vcvtne2ps2bf16 puts its second operand's 16 values in the low half: k order is kept.
      r[j] = f16 ? (__m512i)_mm512_cvtne2ps_pbh(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(v, 1)),
                                                _mm512_cvtph_ps(_mm512_castsi512_si256(v)))
                 : v;
    }
    transpose16x16(r);
    for (int c = 0; c < kStrip; ++c) _mm512_storeu_si512(strip + (g * kStrip + c) * kStrip, r[c]);
  }
  for (int64_t p = groups * kStrip; p < pairs; ++p)
    for (int j = 0; j < kStrip; ++j) {
      uint32_t v = 0;
      if (j < valid) {
        const uint8_t* row = w.rowPtr(r0 + j);
        uint16_t h[2] = {0, 0};
        std::memcpy(h, row + 4 * p, 2 * p + 1 < w.cols ? 4 : 2);
        if (f16) {
          h[0] = toBf16(fp16ToFp32(h[0]));
          h[1] = 2 * p + 1 < w.cols ? toBf16(fp16ToFp32(h[1])) : 0;
        }
        v = uint32_t(h[0]) | uint32_t(h[1]) << 16;
      }
      strip[p * kStrip + j] = v;
    }
}

}  // namespace

void bf16Activations(const float* x, int64_t cols, int64_t r0, int64_t r1, uint32_t* out) {
  const int64_t pairs = bf16Pairs(cols);
  for (int64_t r = r0; r < r1; ++r)
    toBf16Pairs(x + size_t(r) * cols, cols, out + size_t(r) * pairs);
}

void bf16PackPanelScalar(const CpuWeight& w, int64_t r0, int64_t count, uint32_t* dst) {
  const int64_t pairs = bf16Pairs(w.cols), strips = stripsFor(count);
  std::vector<float> f32(size_t(w.cols));
  std::vector<uint32_t> rowPairs(static_cast<size_t>(pairs));
  std::memset(dst, 0, size_t(strips) * size_t(pairs) * kStrip * sizeof(uint32_t));
  for (int64_t r = 0; r < count; ++r) {
    if (w.type == QType::BF16) {
      rowPairs.back() = 0;
      std::memcpy(rowPairs.data(), w.rowPtr(r0 + r), size_t(w.cols) * 2);
    } else {
      cpuDequantizeRow(w.type, w.rowPtr(r0 + r), f32.data(), w.cols);
      toBf16Pairs(f32.data(), w.cols, rowPairs.data());
    }
    uint32_t* strip = dst + size_t(r / kStrip) * size_t(pairs) * kStrip;
    const int64_t lane = r % kStrip;
    for (int64_t p = 0; p < pairs; ++p) strip[p * kStrip + lane] = rowPairs[size_t(p)];
  }
}

void bf16PackPanel(const CpuWeight& w, int64_t r0, int64_t count, uint32_t* dst) {
  if (w.type != QType::F16 && w.type != QType::BF16) return bf16PackPanelScalar(w, r0, count, dst);
  const int64_t pairs = bf16Pairs(w.cols);
  for (int64_t s = 0; s * kStrip < count; ++s)
    bf16PackStrip(w, r0 + s * kStrip, int(std::min<int64_t>(kStrip, count - s * kStrip)),
                  dst + size_t(s) * size_t(pairs) * kStrip);
}

LL_BF16_TARGET void bf16PanelAvx512(const uint32_t* act, int n, int64_t pairs,
                                    const uint32_t* panel, int64_t count, float* y, int64_t ldy) {
  const int64_t strips = stripsFor(count), stride = pairs * kStrip;
  int64_t s = 0;
  for (; s + 2 <= strips; s += 2)
    bf16Rows<2>(act, n, pairs, panel + s * stride, stride, y + s * kStrip, ldy, count - s * kStrip);
  if (s < strips)
    bf16Rows<1>(act, n, pairs, panel + s * stride, stride, y + s * kStrip, ldy, count - s * kStrip);
}

void bf16PanelScalar(const uint32_t* act, int n, int64_t pairs, const uint32_t* panel,
                     int64_t count, float* y, int64_t ldy) {
  auto ftz = [](float v) { return std::fabs(v) < FLT_MIN ? std::copysign(0.0f, v) : v; };
  auto in = [&](uint16_t h) { return ftz(fromBf16(h)); };  // subnormal inputs read as zero
  for (int i = 0; i < n; ++i)
    for (int64_t j = 0; j < count; ++j) {
      const uint32_t* w = panel + size_t(j / kStrip) * size_t(pairs) * kStrip + j % kStrip;
      float acc = 0.0f;
      for (int64_t p = 0; p < pairs; ++p) {
        const uint32_t a = act[size_t(i) * pairs + p], b = w[p * kStrip];
        // bf16 x bf16 is exact in f32: only the two additions round.
        acc = ftz(acc + in(uint16_t(a >> 16)) * in(uint16_t(b >> 16)));
        acc = ftz(acc + in(uint16_t(a)) * in(uint16_t(b)));
      }
      y[size_t(i) * ldy + j] = acc;
    }
}

}  // namespace ll::kern::fast
