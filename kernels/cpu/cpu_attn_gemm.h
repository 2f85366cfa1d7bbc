// The CPU attention's two small products per head and block of query rows (scores Q K^T and
// outputs P V) on AVX-512, each with a scalar reference beside it that gives the same bits.
#pragma once

#include <cstdint>

namespace ll::kern {

// Whether attnScores / attnWeightedSum may be called: AVX-512F at run time and the panel GEMM not
// switched off (LAYERLENS_CPU_GEMM=library keeps the attention on Eigen as well, for A/B timings).
bool attnGemmAvailable();

// s[i * lds + j] = scale * sum_c q[i * ldq + c] * k[j * ldk + c] for i < m, j < nk, c < hd: one
// FMA chain over c in order from 0, then one multiplication by scale. A value depends only on its
// own row and key (not on m, nk or where the block starts). Requires attnGemmAvailable().
void attnScores(const float* q, int64_t ldq, int m, const float* k, int64_t ldk, int nk, int hd,
                float scale, float* s, int64_t lds);
void attnScoresReference(const float* q, int64_t ldq, int m, const float* k, int64_t ldk, int nk,
                         int hd, float scale, float* s, int64_t lds);

// o[i * ldo + c] = sum_j p[i * ldp + j] * v[j * ldv + c] for i < m, c < hd, j < nk: one FMA chain
// over j in order from 0. Requires attnGemmAvailable().
void attnWeightedSum(const float* p, int64_t ldp, int m, const float* v, int64_t ldv, int nk,
                     int hd, float* o, int64_t ldo);
void attnWeightedSumReference(const float* p, int64_t ldp, int m, const float* v, int64_t ldv,
                              int nk, int hd, float* o, int64_t ldo);

}  // namespace ll::kern
