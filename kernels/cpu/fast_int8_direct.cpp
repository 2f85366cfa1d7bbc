// Fast math mode, quantized weights, few activation rows: int8 products straight from each strip's
// decoded rows (no packed panel), bit-identical with the panel kernel (fast_int8.cpp), so
// generation and the last-word update skip the per-call weight repacking.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_transpose.h"

#define LL_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

namespace ll::kern::fast {
namespace {

// One activation row against one decoded strip: for each pair of blocks, row j's 64 bytes times
// the row's 64 activation bytes give 16 lane sums (lane c: k 4c..4c+3 of the pair); the 16x16
// transpose puts lane c of every row in r[c], so adding lanes of a group gives its integer sum for
// all 16 rows at once. Then the panel kernel's f32 steps, group by group in k order.
template <int G, bool kMin>
LL_VNNI_TARGET void directRow(const Int8Act& a, int64_t blocks, const uint8_t* rows, int64_t cols,
                              const float* scales, const float* mins, float* y, int valid) {
  constexpr int kSub = kQBlock / G, kLanes = G / 4;
  __m512 facc = _mm512_setzero_ps();
  __m512i r[kStrip];
  for (int64_t b = 0; b < blocks; b += 2) {
    const bool pair = b + 1 < blocks;
    const __mmask64 m = pair ? ~__mmask64(0) : __mmask64(0xffffffffu);
    const __m512i x = _mm512_maskz_loadu_epi8(m, a.q + b * kQBlock);
    for (int j = 0; j < kStrip; ++j)
      r[j] =
          _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                              _mm512_maskz_loadu_epi8(m, rows + size_t(j) * cols + b * kQBlock), x);
    transpose16x16(r);
    for (int h = 0; h < (pair ? 2 : 1); ++h) {
      const __m512 sx = _mm512_set1_ps(a.scale[b + h]);
#pragma GCC unroll 2
      for (int s = 0; s < kSub; ++s) {
        const int64_t g = (b + h) * kSub + s;
        const int c0 = h * 8 + s * kLanes;
        __m512i sum = _mm512_set1_epi32(-a.corr[g]);
#pragma GCC unroll 8
        for (int c = c0; c < c0 + kLanes; ++c) sum = _mm512_add_epi32(sum, r[c]);
        const __m512 sw = _mm512_loadu_ps(scales + g * kStrip);
        facc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(sx, sw), facc);
        if constexpr (kMin)
          facc =
              _mm512_fmadd_ps(_mm512_set1_ps(a.xsum[g]), _mm512_loadu_ps(mins + g * kStrip), facc);
      }
    }
  }
  _mm512_mask_storeu_ps(y, __mmask16((1u << valid) - 1u), facc);
}

template <int G, bool kMin>
void directStrips(const CpuWeight& w, const Int8Act& a, int n, int64_t r0, int64_t count, float* y,
                  int64_t ldy) {
  const int64_t cols = w.cols, blocks = cols / kQBlock, groups = blocks * (kQBlock / G);
  thread_local std::vector<uint8_t> rows;
  thread_local std::vector<float> dm;
  rows.resize(size_t(kStrip) * cols);
  dm.resize(size_t(2) * groups * kStrip);
  float* scales = dm.data();
  float* mins = scales + groups * kStrip;
  for (int64_t s = 0; s * kStrip < count; ++s) {
    const int valid = int(std::min<int64_t>(kStrip, count - s * kStrip));
    int8StripRows(w, r0 + s * kStrip, valid, rows.data(), scales, mins);
    for (int i = 0; i < n; ++i) {
      const Int8Act ai{a.q + size_t(i) * cols, a.scale + size_t(i) * blocks,
                       a.corr + size_t(i) * groups, kMin ? a.xsum + size_t(i) * groups : nullptr};
      directRow<G, kMin>(ai, blocks, rows.data(), cols, scales, mins,
                         y + size_t(i) * ldy + s * kStrip, valid);
    }
  }
}

}  // namespace

void int8DirectAvx512(const CpuWeight& w, const Int8Act& a, int n, int64_t r0, int64_t count,
                      float* y, int64_t ldy) {
  const Int8Layout l = int8Layout(w.type);
  if (l.group == kQBlock)
    (l.mins ? directStrips<32, true> : directStrips<32, false>)(w, a, n, r0, count, y, ldy);
  else
    (l.mins ? directStrips<16, true> : directStrips<16, false>)(w, a, n, r0, count, y, ldy);
}

}  // namespace ll::kern::fast
