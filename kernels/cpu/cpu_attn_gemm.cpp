// The attention's score and output products (cpu_attn_gemm.h): AVX-512 register tiles, and the
// scalar references they are tested against. Eigen ran these at about 60% of the core's f32 peak
// on the engine's shapes (hd 64, up to 32 query rows against a few hundred keys, perf on Zen 4).
#include "kernels/cpu/cpu_attn_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "kernels/cpu/cpu_panel_gemm.h"
#include "kernels/cpu/fast_transpose.h"
#include "kernels/cpu/scratch.h"

// GCC 12 bug 105593: false "__Y is used uninitialized" inside avx512fintrin.h (fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define LL_ATTN_TARGET __attribute__((target("avx512f")))

namespace ll::kern {
namespace {

constexpr int kKeys = 32;       // keys per score tile (two zmm)
constexpr int kScoreRows = 12;  // query rows per score tile
constexpr int kSumRows = 6;     // query rows per output tile
constexpr int kSumDims = 64;    // output dims per output tile (four zmm)
constexpr int kStripSlot = 1;   // threadScratch slot of the packed keys (the attention uses 0)

LL_ATTN_TARGET inline __mmask16 laneMask(int lanes) {
  return lanes >= 16 ? __mmask16(0xffff) : lanes <= 0 ? __mmask16(0) : __mmask16((1u << lanes) - 1);
}

// Keys [j0, j0 + 32) transposed into kt[c][32] (c < hd); keys past nk are zeros.
LL_ATTN_TARGET void packKeys(const float* k, int64_t ldk, int nk, int hd, int j0, float* kt) {
  for (int jj = 0; jj < kKeys; jj += 16)
    for (int c = 0; c < hd; c += 16) {
      const __mmask16 m = laneMask(hd - c);
      __m512i r[16];
      for (int i = 0; i < 16; ++i)
        r[i] =
            j0 + jj + i < nk
                ? _mm512_castps_si512(_mm512_maskz_loadu_ps(m, k + int64_t(j0 + jj + i) * ldk + c))
                : _mm512_setzero_si512();
      fast::transpose16x16(r);
      for (int t = 0; t < std::min(16, hd - c); ++t)
        _mm512_store_ps(kt + (c + t) * kKeys + jj, _mm512_castsi512_ps(r[t]));
    }
}

// Scores of R query rows against one packed 32-key strip; lanes past m0/m1 are not stored.
template <int R>
LL_ATTN_TARGET void scoreTile(const float* q, int64_t ldq, const float* kt, int hd, float scale,
                              float* s, int64_t lds, __mmask16 m0, __mmask16 m1) {
  __m512 a0[R], a1[R];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {  // unrolled: keeps GCC from zeroing a stack copy with memset
    a0[i] = _mm512_setzero_ps();
    a1[i] = _mm512_setzero_ps();
  }
  for (int c = 0; c < hd; ++c) {
    const __m512 b0 = _mm512_load_ps(kt + c * kKeys), b1 = _mm512_load_ps(kt + c * kKeys + 16);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const __m512 x = _mm512_set1_ps(q[i * ldq + c]);
      a0[i] = _mm512_fmadd_ps(x, b0, a0[i]);
      a1[i] = _mm512_fmadd_ps(x, b1, a1[i]);
    }
  }
  const __m512 sc = _mm512_set1_ps(scale);
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    _mm512_mask_storeu_ps(s + i * lds, m0, _mm512_mul_ps(a0[i], sc));
    _mm512_mask_storeu_ps(s + i * lds + 16, m1, _mm512_mul_ps(a1[i], sc));
  }
}

// Outputs of R query rows, dims [0, 64) of o and v (lanes past mk[z] neither read nor written).
template <int R>
LL_ATTN_TARGET void sumTile(const float* p, int64_t ldp, const float* v, int64_t ldv, int nk,
                            float* o, int64_t ldo, const __mmask16* mk) {
  __m512 acc[R][4];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int z = 0; z < 4; ++z) acc[i][z] = _mm512_setzero_ps();
  for (int j = 0; j < nk; ++j) {
    const float* vj = v + int64_t(j) * ldv;
    __m512 b[4];
#pragma GCC unroll 4
    for (int z = 0; z < 4; ++z) b[z] = _mm512_maskz_loadu_ps(mk[z], vj + 16 * z);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const __m512 x = _mm512_set1_ps(p[i * ldp + j]);
#pragma GCC unroll 4
      for (int z = 0; z < 4; ++z) acc[i][z] = _mm512_fmadd_ps(x, b[z], acc[i][z]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int z = 0; z < 4; ++z) _mm512_mask_storeu_ps(o + i * ldo + 16 * z, mk[z], acc[i][z]);
}

using ScoreFn = void (*)(const float*, int64_t, const float*, int, float, float*, int64_t,
                         __mmask16, __mmask16);
using SumFn = void (*)(const float*, int64_t, const float*, int64_t, int, float*, int64_t,
                       const __mmask16*);

template <int... Rs>
constexpr auto scoreTable(std::integer_sequence<int, Rs...>) {
  return std::array<ScoreFn, sizeof...(Rs)>{&scoreTile<Rs + 1>...};
}
template <int... Rs>
constexpr auto sumTable(std::integer_sequence<int, Rs...>) {
  return std::array<SumFn, sizeof...(Rs)>{&sumTile<Rs + 1>...};
}
constexpr auto kScoreTiles = scoreTable(std::make_integer_sequence<int, kScoreRows>{});
constexpr auto kSumTiles = sumTable(std::make_integer_sequence<int, kSumRows>{});

}  // namespace

bool attnGemmAvailable() {
  return panelGemmAvailable();  // the same CPU check and the same library switch
}

void attnScores(const float* q, int64_t ldq, int m, const float* k, int64_t ldk, int nk, int hd,
                float scale, float* s, int64_t lds) {
  if (m <= 0 || nk <= 0) return;
  float* kt = threadScratch(size_t(hd) * kKeys, kStripSlot);
  for (int j0 = 0; j0 < nk; j0 += kKeys) {
    packKeys(k, ldk, nk, hd, j0, kt);
    const int keys = std::min(kKeys, nk - j0);
    const __mmask16 m0 = laneMask(keys), m1 = laneMask(keys - 16);
    for (int i0 = 0; i0 < m; i0 += kScoreRows) {
      const int rows = std::min(kScoreRows, m - i0);
      kScoreTiles[size_t(rows - 1)](q + i0 * ldq, ldq, kt, hd, scale, s + i0 * lds + j0, lds, m0,
                                    m1);
    }
  }
}

void attnScoresReference(const float* q, int64_t ldq, int m, const float* k, int64_t ldk, int nk,
                         int hd, float scale, float* s, int64_t lds) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < nk; ++j) {
      float acc = 0.0f;
      for (int c = 0; c < hd; ++c) acc = std::fmaf(q[i * ldq + c], k[j * ldk + c], acc);
      s[i * lds + j] = acc * scale;
    }
}

void attnWeightedSum(const float* p, int64_t ldp, int m, const float* v, int64_t ldv, int nk,
                     int hd, float* o, int64_t ldo) {
  if (m <= 0 || hd <= 0) return;
  for (int c0 = 0; c0 < hd; c0 += kSumDims) {
    const __mmask16 mk[4] = {laneMask(hd - c0), laneMask(hd - c0 - 16), laneMask(hd - c0 - 32),
                             laneMask(hd - c0 - 48)};
    for (int i0 = 0; i0 < m; i0 += kSumRows) {
      const int rows = std::min(kSumRows, m - i0);
      kSumTiles[size_t(rows - 1)](p + i0 * ldp, ldp, v + c0, ldv, nk, o + i0 * ldo + c0, ldo, mk);
    }
  }
}

void attnWeightedSumReference(const float* p, int64_t ldp, int m, const float* v, int64_t ldv,
                              int nk, int hd, float* o, int64_t ldo) {
  for (int i = 0; i < m; ++i)
    for (int c = 0; c < hd; ++c) {
      float acc = 0.0f;
      for (int j = 0; j < nk; ++j) acc = std::fmaf(p[i * ldp + j], v[j * ldv + c], acc);
      o[i * ldo + c] = acc;
    }
}

}  // namespace ll::kern
