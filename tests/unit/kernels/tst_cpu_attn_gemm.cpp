// The attention's AVX-512 score and output products (kernels/cpu/cpu_attn_gemm.h): bit-identical
// to their scalar references on every tail (rows, keys, head dims), close to a double-precision
// product, a row's values independent of the rows beside it, and nothing written past the block.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu_weight_fixtures.h"
#include "kernels/cpu/cpu_attn_gemm.h"
#include "lltest.h"

using namespace ll::kern;
using cputest::randoms;

namespace {

constexpr float kSentinel = -7.0f;

}  // namespace

LL_TEST(scoresEqualTheirReference) {
  if (!attnGemmAvailable()) QSKIP("this CPU has no AVX-512F: the attention uses Eigen here");
  for (const int hd : {64, 128, 80, 7, 16, 33})
    for (const int nk : {1, 15, 16, 17, 31, 32, 33, 100, 300})
      for (const int m : {1, 5, 12, 13, 25, 32}) {
        // Strided rows as in the engine: heads side by side in a row.
        const int64_t ldq = 3 * hd + 5, ldk = 2 * hd + 3, lds = nk + 11;
        const auto q = randoms(size_t(m) * ldq, uint32_t(hd + m));
        const auto k = randoms(size_t(nk) * ldk, uint32_t(hd * 7 + nk));
        std::vector<float> got(size_t(m) * lds, kSentinel), want(got);
        attnScores(q.data() + 2, ldq, m, k.data() + 1, ldk, nk, hd, 0.125f, got.data(), lds);
        attnScoresReference(q.data() + 2, ldq, m, k.data() + 1, ldk, nk, hd, 0.125f, want.data(),
                            lds);
        const std::string what = "hd " + std::to_string(hd) + " keys " + std::to_string(nk) +
                                 " rows " + std::to_string(m);
        QVERIFY2(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0,
                 what + ": scores differ from the reference (or were written past the block)");
      }
}

LL_TEST(weightedSumsEqualTheirReference) {
  if (!attnGemmAvailable()) QSKIP("this CPU has no AVX-512F: the attention uses Eigen here");
  for (const int hd : {64, 128, 80, 7, 16, 33, 200})
    for (const int nk : {1, 15, 16, 17, 100, 300})
      for (const int m : {1, 5, 6, 7, 13, 32}) {
        const int64_t ldp = nk + 9, ldv = 2 * hd + 3, ldo = 3 * hd + 1;
        const auto p = randoms(size_t(m) * ldp, uint32_t(hd + m + 1));
        const auto v = randoms(size_t(nk) * ldv, uint32_t(hd * 5 + nk));
        std::vector<float> got(size_t(m) * ldo, kSentinel), want(got);
        attnWeightedSum(p.data() + 1, ldp, m, v.data() + 2, ldv, nk, hd, got.data(), ldo);
        attnWeightedSumReference(p.data() + 1, ldp, m, v.data() + 2, ldv, nk, hd, want.data(), ldo);
        const std::string what = "hd " + std::to_string(hd) + " keys " + std::to_string(nk) +
                                 " rows " + std::to_string(m);
        QVERIFY2(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0,
                 what + ": outputs differ from the reference (or were written past the block)");
      }
}

// The references themselves: within float rounding of a double-precision product.
LL_TEST(referencesCloseToDoubleProducts) {
  const int m = 9, nk = 70, hd = 64;
  const auto q = randoms(size_t(m) * hd, 1), k = randoms(size_t(nk) * hd, 2);
  std::vector<float> s(size_t(m) * nk), o(size_t(m) * hd);
  attnScoresReference(q.data(), hd, m, k.data(), hd, nk, hd, 0.5f, s.data(), nk);
  attnWeightedSumReference(s.data(), nk, m, k.data(), hd, nk, hd, o.data(), hd);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < nk; ++j) {
      double ref = 0, mag = 0;
      for (int c = 0; c < hd; ++c) {
        ref += double(q[i * hd + c]) * k[j * hd + c];
        mag += std::fabs(double(q[i * hd + c]) * k[j * hd + c]);
      }
      QVERIFY(std::fabs(s[i * nk + j] - 0.5 * ref) <= 1e-6 * mag);
    }
    for (int c = 0; c < hd; ++c) {
      double ref = 0, mag = 0;
      for (int j = 0; j < nk; ++j) {
        ref += double(s[i * nk + j]) * k[j * hd + c];
        mag += std::fabs(double(s[i * nk + j]) * k[j * hd + c]);
      }
      QVERIFY(std::fabs(o[i * hd + c] - ref) <= 1e-6 * mag);
    }
  }
}

// A query row's scores and output are the same bits whether it is computed in a block of 32 rows
// or alone (prefix reuse and decode recompute single rows).
LL_TEST(rowsIndependentOfTheBlock) {
  if (!attnGemmAvailable()) QSKIP("this CPU has no AVX-512F: the attention uses Eigen here");
  const int m = 32, nk = 200, hd = 64;
  const auto q = randoms(size_t(m) * hd, 31), k = randoms(size_t(nk) * hd, 32);
  const auto p = randoms(size_t(m) * nk, 33), v = randoms(size_t(nk) * hd, 34);
  std::vector<float> s(size_t(m) * nk), o(size_t(m) * hd), s1(nk), o1(hd);
  attnScores(q.data(), hd, m, k.data(), hd, nk, hd, 0.125f, s.data(), nk);
  attnWeightedSum(p.data(), nk, m, v.data(), hd, nk, hd, o.data(), hd);
  for (const int i : {0, 5, 12, 17, 31}) {
    attnScores(q.data() + i * hd, hd, 1, k.data(), hd, nk, hd, 0.125f, s1.data(), nk);
    attnWeightedSum(p.data() + i * nk, nk, 1, v.data(), hd, nk, hd, o1.data(), hd);
    QVERIFY2(std::memcmp(s1.data(), s.data() + i * nk, nk * sizeof(float)) == 0,
             ("row " + std::to_string(i) + ": scores depend on the block").c_str());
    QVERIFY2(std::memcmp(o1.data(), o.data() + i * hd, hd * sizeof(float)) == 0,
             ("row " + std::to_string(i) + ": outputs depend on the block").c_str());
  }
}

LL_TEST_MAIN("tst_cpu_attn_gemm")
