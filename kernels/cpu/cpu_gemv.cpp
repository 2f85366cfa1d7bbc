#include "kernels/cpu/cpu_gemv.h"

#include <immintrin.h>

#include <cstring>

namespace ll::kern {
namespace {

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

float half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 8 unsigned bytes -> 8 floats.
inline __m256 u8x8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// block_q8_0: f16 d, int8 qs[32]; row dot = sum_b d_b * sum_j q_j x_j.
float dotQ8_0(const uint8_t* b, const float* x, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i, b += 34, x += 32) {
    __m256 s = _mm256_setzero_ps();
    for (int j = 0; j < 32; j += 8) {
      const __m256 q = _mm256_cvtepi32_ps(
          _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + j))));
      s = _mm256_fmadd_ps(q, _mm256_loadu_ps(x + j), s);
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(half(b)), s, acc);
  }
  return hsum(acc);
}

// 16-bit floats (F16, BF16): four accumulators of 8 lanes hide the FMA latency; the loop streams
// the row's bytes once, which is what bounds a generation step. load8 widens 8 values, load1 one.
template <class Load8, class Load1>
float dot16(const uint8_t* row, const float* x, int64_t cols, Load8 load8, Load1 load1) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t j = 0;
  for (; j + 32 <= cols; j += 32)
    for (int k = 0; k < 4; ++k)
      acc[k] =
          _mm256_fmadd_ps(load8(row + 2 * (j + 8 * k)), _mm256_loadu_ps(x + j + 8 * k), acc[k]);
  for (; j + 8 <= cols; j += 8)
    acc[0] = _mm256_fmadd_ps(load8(row + 2 * j), _mm256_loadu_ps(x + j), acc[0]);
  float total = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; j < cols; ++j) total += load1(row + 2 * j) * x[j];
  return total;
}

float dotF16(const uint8_t* row, const float* x, int64_t cols) {
  return dot16(
      row, x, cols,
      [](const uint8_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      },
      half);
}

// bf16 is the high half of an f32.
float dotBF16(const uint8_t* row, const float* x, int64_t cols) {
  return dot16(
      row, x, cols,
      [](const uint8_t* p) {
        const __m256i w =
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
      },
      [](const uint8_t* p) {
        uint16_t h;
        std::memcpy(&h, p, 2);
        const uint32_t bits = uint32_t(h) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        return f;
      });
}

// ggml get_scale_min_k4.
inline void scaleMinK4(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

// block_q4_K: f16 d, f16 dmin, scales[12], qs[128]. Element = d*sc*q - dmin*m per 32-element
// sub-block, so dot = sum_s (d*sc_s) * sum(q x) - (dmin*m_s) * sum(x); sum(x) comes precomputed.
float dotQ4_K(const uint8_t* b, const float* x, const float* xs, int64_t nb) {
  const __m256i low = _mm256_set1_epi32(0xF);
  float total = 0.0f;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i, b += 144, x += 256, xs += 8) {
    const float d = half(b), dmin = half(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    for (int g = 0; g < 4; ++g, q += 32) {
      uint8_t sc0, m0, sc1, m1;
      scaleMinK4(2 * g, scales, sc0, m0);
      scaleMinK4(2 * g + 1, scales, sc1, m1);
      __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
      const float* x0 = x + 64 * g;
      for (int j = 0; j < 32; j += 8) {
        const __m256i bytes =
            _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + j)));
        const __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(bytes, low));
        const __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(bytes, 4));
        s0 = _mm256_fmadd_ps(lo, _mm256_loadu_ps(x0 + j), s0);
        s1 = _mm256_fmadd_ps(hi, _mm256_loadu_ps(x0 + 32 + j), s1);
      }
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc0), s0, acc);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc1), s1, acc);
      total -= dmin * m0 * xs[2 * g] + dmin * m1 * xs[2 * g + 1];
    }
  }
  return hsum(acc) + total;
}

// block_q6_K: ql[128], qh[64], int8 scales[16], f16 d. Element = d*sc*(q - 32) with a scale per
// 16 elements: dot = sum over 16-groups of (d*sc) * sum((q - 32) x).
float dotQ6_K(const uint8_t* b, const float* x, int64_t nb) {
  const __m256i m4 = _mm256_set1_epi32(0xF), m3 = _mm256_set1_epi32(3), off = _mm256_set1_epi32(32);
  auto ld = [](const uint8_t* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  };
  // 2 high bits of q at bit position 2*k of h, moved to bits 4..5.
  auto hiBits = [&](__m256i h, int k) {
    return _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2 * k), m3), 4);
  };
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i, b += 210) {
    const float d = half(b + 208);
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8, x += 128) {
      for (int g = 0; g < 2; ++g) {
        __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                       _mm256_setzero_ps()};
        for (int l = 16 * g; l < 16 * g + 16; l += 8) {
          const __m256i a = ld(ql + l), c = ld(ql + l + 32), h = ld(qh + l);
          const __m256i qs[4] = {_mm256_or_si256(_mm256_and_si256(a, m4), hiBits(h, 0)),
                                 _mm256_or_si256(_mm256_and_si256(c, m4), hiBits(h, 1)),
                                 _mm256_or_si256(_mm256_srli_epi32(a, 4), hiBits(h, 2)),
                                 _mm256_or_si256(_mm256_srli_epi32(c, 4), hiBits(h, 3))};
          for (int k = 0; k < 4; ++k)
            s[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(qs[k], off)),
                                   _mm256_loadu_ps(x + 32 * k + l), s[k]);
        }
        for (int k = 0; k < 4; ++k)
          acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc[g + 2 * k]), s[k], acc);
      }
    }
  }
  return hsum(acc);
}

#endif

}  // namespace

bool hasFusedGemv(QType type) {
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
  return type == QType::Q8_0 || type == QType::Q4_K || type == QType::Q6_K || type == QType::F16 ||
         type == QType::BF16;
#else
  (void)type;
  return false;
#endif
}

void fusedGemv(const CpuWeight& w, const float* x, const float* xSums32, float* y, int64_t r0,
               int64_t r1) {
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.rowPtr(r);
    switch (w.type) {
      case QType::Q8_0:
        y[r] = dotQ8_0(row, x, w.cols / 32);
        break;
      case QType::Q4_K:
        y[r] = dotQ4_K(row, x, xSums32, w.cols / 256);
        break;
      case QType::F16:
        y[r] = dotF16(row, x, w.cols);
        break;
      case QType::BF16:
        y[r] = dotBF16(row, x, w.cols);
        break;
      default:
        y[r] = dotQ6_K(row, x, w.cols / 256);
        break;
    }
  }
#else
  (void)w, (void)x, (void)xSums32, (void)y, (void)r0, (void)r1;
#endif
}

}  // namespace ll::kern
