// Fast math mode: activations quantized per 32-block to int8 for the int8 kernels, in AVX-512 and
// as the plain scalar reference (the same bytes, scales and sums).
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/fast_kernels.h"

#define LL_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace ll::kern::fast {
namespace {

// x's sum per group in k order (f32, sequential: the reference's order).
void groupSums(const float* v, int group, float* out) {
  for (int h = 0; h < kQBlock / group; ++h) {
    float xs = 0.0f;
    for (int j = h * group; j < (h + 1) * group; ++j) xs += v[j];
    out[h] = xs;
  }
}

}  // namespace

LL_AVX512_TARGET void int8Activations(const float* x, int64_t cols, int64_t r0, int64_t r1,
                                      const Int8Act& a, int group) {
  const int64_t blocks = cols / kQBlock, sub = kQBlock / group, groups = blocks * sub;
  const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      const float* v = x + size_t(r) * cols + b * kQBlock;
      const __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
      // max is exact in any order; the scale and its inverse are the reference's scalar steps.
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
      const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
      const __m512 vid = _mm512_set1_ps(id);
      // Round half to even (std::nearbyint's default mode), then clamp as the reference does.
      constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
      const __m512i q0 = _mm512_cvtps_epi32(_mm512_min_ps(
          _mm512_max_ps(_mm512_roundscale_ps(_mm512_mul_ps(v0, vid), kRound), lo), hi));
      const __m512i q1 = _mm512_cvtps_epi32(_mm512_min_ps(
          _mm512_max_ps(_mm512_roundscale_ps(_mm512_mul_ps(v1, vid), kRound), lo), hi));
      int8_t* q = a.q + size_t(r) * cols + b * kQBlock;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(q0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(q1));
      int32_t* corr = a.corr + size_t(r) * groups + b * sub;
      if (sub == 1) {
        corr[0] = 128 * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
      } else {
        corr[0] = 128 * _mm512_reduce_add_epi32(q0);
        corr[1] = 128 * _mm512_reduce_add_epi32(q1);
      }
      if (a.xsum) groupSums(v, group, a.xsum + size_t(r) * groups + b * sub);
      a.scale[size_t(r) * blocks + b] = d;
    }
}

void int8ActivationsScalar(const float* x, int64_t cols, int64_t r0, int64_t r1, const Int8Act& a,
                           int group) {
  const int64_t blocks = cols / kQBlock, sub = kQBlock / group, groups = blocks * sub;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      const float* v = x + size_t(r) * cols + b * kQBlock;
      float amax = 0.0f;
      for (int j = 0; j < kQBlock; ++j) amax = std::max(amax, std::fabs(v[j]));
      const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
      int8_t* q = a.q + size_t(r) * cols + b * kQBlock;
      for (int h = 0; h < sub; ++h) {
        int32_t sum = 0;
        for (int j = h * group; j < (h + 1) * group; ++j) {
          // std::nearbyint rounds half to even; |v * id| <= 127 (+ rounding) is clamped.
          const float t = std::clamp(std::nearbyint(v[j] * id), -127.0f, 127.0f);
          q[j] = int8_t(t);
          sum += q[j];
        }
        a.corr[size_t(r) * groups + b * sub + h] = 128 * sum;
      }
      if (a.xsum) groupSums(v, group, a.xsum + size_t(r) * groups + b * sub);
      a.scale[size_t(r) * blocks + b] = d;
    }
}

}  // namespace ll::kern::fast
