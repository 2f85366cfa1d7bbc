// Causal attention with statistics for the CPU backend (cpu_attention.h): scores, softmax and
// the weighted sum per head and block of query rows.
#include "kernels/cpu/cpu_attention.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/cpu_attn_gemm.h"
#include "kernels/cpu/scratch.h"
#include "kernels/reference/reference_ops.h"

namespace ll::kern {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using StridedMap = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
using StridedOut = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;

// Query rows handled together: one GEMM for their scores, one for their outputs.
constexpr int kBlockQ = 32;

// From this many query rows per call the products run on our AVX-512 tiles (cpu_attn_gemm.h);
// fewer (decode, a keystroke's few rows) stay on Eigen, whose GEMV is faster there: the tiles
// would transpose every key for one row (measured 5x slower at 1 x 2048 keys). As with the panel
// GEMM (cpu_matmul.cpp), the choice depends on the call's row count only.
constexpr int kAttnGemmMinRows = 32;

bool ownProducts(const AttnArgs& a) {
  return a.nQ >= kAttnGemmMinRows && attnGemmAvailable();
}

// Keys [k0, L) of a block of query rows: k0 = first key its first row may see (window), L = keys
// up to the last row's own.
struct KeyRange {
  int k0, L;
};

// Probabilities of query rows [i0, i1) of head h into P (row stride ld; key j in column j);
// columns [k0, L) are written, zeros past each row's own visible range. Only those keys' scores
// are computed: a sliding window leaves the keys before k0 out of the GEMM. ent (optional)
// receives each row's entropy. Semantics: kernels/attn_rule.h (attnVisible, attnLogit, sinks).
KeyRange blockProbs(const AttnArgs& a, int h, int i0, int i1, float* P, int64_t ld, float* ent) {
  const AttnMask mask = a.mask();
  const int kvh = h / (a.nHead / a.nHeadKv);
  const int hd = a.headDim;
  const int base = a.nKv - a.nQ;  // cache index of query row 0
  const int L = base + i1;        // keys 0..base+i1-1
  const int k0 = attnFirstKey(mask, base + i0);
  const float* q = a.q + size_t(i0) * a.nHead * hd + size_t(h) * hd;
  const float* k = a.k + (size_t(k0) * a.nHeadKv + kvh) * hd;
  const int64_t ldq = int64_t(a.nHead) * hd, ldk = int64_t(a.nHeadKv) * hd;
  if (ownProducts(a)) {
    attnScores(q, ldq, i1 - i0, k, ldk, L - k0, hd, a.scale, P + k0, ld);
  } else {
    StridedMap Q(q, i1 - i0, hd, Eigen::OuterStride<>(ldq));
    StridedMap K(k, L - k0, hd, Eigen::OuterStride<>(ldk));
    StridedOut S(P + k0, i1 - i0, L - k0, Eigen::OuterStride<>(ld));
    S.noalias() = (Q * K.transpose()) * a.scale;
  }

  const bool keyMasks = attnKeyMasks(mask);
  const float sink = attnSinkLogit(a.sinks, h);
  for (int i = i0; i < i1; ++i) {
    const int qi = base + i;
    float* s = P + size_t(i - i0) * ld;
    const int lo = attnFirstKey(mask, qi), hi = qi + 1;  // candidates by causal/window limits
    // Per-key test only where a knockout or eviction can hide a candidate of this row.
    const bool masking =
        keyMasks && ((mask.blockQ && mask.blockK && mask.blockQ[qi] != 0) ||
                     (mask.headKeep && qi >= mask.headKeepFrom && lo < mask.headKeepLen));
    auto hidden = [&](int j) { return !attnVisible(mask, qi, j, kvh); };
    if (mask.softcap > 0.0f)  // s holds scale * q.k already
      for (int j = lo; j < hi; ++j) s[j] = attnLogit(mask, s[j], 1.0f);
    Eigen::Map<Eigen::ArrayXf> row(s + lo, hi - lo);
    float mx = -std::numeric_limits<float>::infinity();
    if (masking) {
      for (int j = lo; j < hi; ++j)
        if (!hidden(j)) mx = std::max(mx, s[j]);
    } else {
      mx = row.maxCoeff();
    }
    mx = std::max(mx, sink);  // the sink shares the max shift (no sink: -inf)
    row -= mx;                // now <= 0 on visible keys
    if (masking)
      for (int j = lo; j < hi; ++j)
        if (hidden(j)) s[j] = 0.0f;  // shifted score 0; weight zeroed below
    Eigen::ArrayXf shifted;
    if (ent) shifted = row;
    row = row.exp();
    if (masking)
      for (int j = lo; j < hi; ++j)
        if (hidden(j)) s[j] = 0.0f;
    float z = row.sum();
    float sinkTerm = 0.0f;  // e_sink (sink - max), for the entropy
    if (sink != -std::numeric_limits<float>::infinity()) {
      const float d = sink - mx, e = std::exp(d);
      z += e;
      sinkTerm = e * d;
    }
    if (ent) {
      // H = ln Z - sum_j p_j (s_j - max): no log of tiny probabilities, exact zeros drop out.
      // The sink counts as one more outcome.
      const float dot = (row * shifted).sum() + sinkTerm;
      ent[i - i0] = std::log(z) - dot / z;
    }
    row *= 1.0f / z;
    std::fill(s + k0, s + lo, 0.0f);
    std::fill(s + hi, s + L, 0.0f);
  }
  return {k0, L};
}

}  // namespace

void cpuAttention(ThreadPool& pool, const AttnArgs& a) {
  ref::checkAttnArgs(a);
  const int hd = a.headDim;
  const int bq = std::min(kBlockQ, a.nQ);
  pool.run(a.nHead, [&](int64_t hh, int) {
    const int h = int(hh);
    const int kvh = h / (a.nHead / a.nHeadKv);
    const int64_t ld = int64_t(alignedStride(size_t(a.nKv)));
    float* buf = threadScratch(size_t(bq) * ld);
    float ent[kBlockQ];
    for (int i0 = 0; i0 < a.nQ; i0 += bq) {
      const int i1 = std::min(a.nQ, i0 + bq);
      const auto [k0, L] = blockProbs(a, h, i0, i1, buf, ld, a.entropy ? ent : nullptr);
      StridedMap P(buf + k0, i1 - i0, L - k0, Eigen::OuterStride<>(ld));
      if (a.out) {
        const float* v = a.v + (size_t(k0) * a.nHeadKv + kvh) * hd;
        float* o = a.out + size_t(i0) * a.nHead * hd + size_t(h) * hd;
        const int64_t ldv = int64_t(a.nHeadKv) * hd, ldo = int64_t(a.nHead) * hd;
        if (ownProducts(a)) {
          attnWeightedSum(buf + k0, ld, i1 - i0, v, ldv, L - k0, hd, o, ldo);
        } else {
          StridedMap V(v, L - k0, hd, Eigen::OuterStride<>(ldv));
          StridedOut O(o, i1 - i0, hd, Eigen::OuterStride<>(ldo));
          O.noalias() = P * V;
        }
      }
      if (a.entropy)
        for (int i = i0; i < i1; ++i) a.entropy[size_t(h) * a.nQ + i] = ent[i - i0];
      if (a.colSum) {
        Eigen::Map<Eigen::RowVectorXf> col(a.colSum + size_t(h) * a.nKv + k0, L - k0);
        col += P.colwise().sum();
      }
      if (a.lastRow && i1 == a.nQ) {
        float* lr = a.lastRow + size_t(h) * a.nKv;
        const float* src = buf + size_t(i1 - 1 - i0) * ld;
        std::fill(lr, lr + k0, 0.0f);
        std::copy(src + k0, src + L, lr + k0);
        std::fill(lr + L, lr + a.nKv, 0.0f);
      }
    }
  });
}

void cpuAttentionMap(ThreadPool& pool, const AttnArgs& a, int head, float* out) {
  ref::checkAttnArgs(a);
  if (head < 0 || head >= a.nHead) throw std::invalid_argument("attentionMap: head out of range");
  const int64_t nBlocks = (a.nQ + kBlockQ - 1) / kBlockQ;
  pool.run(nBlocks, [&](int64_t b, int) {
    const int i0 = int(b) * kBlockQ, i1 = std::min(a.nQ, i0 + kBlockQ);
    // Same aligned scratch rows as attention(), so the map is bit-identical to the
    // probabilities behind the output and statistics.
    const int64_t ld = int64_t(alignedStride(size_t(a.nKv)));
    float* P = threadScratch(size_t(i1 - i0) * ld);
    const auto [k0, L] = blockProbs(a, head, i0, i1, P, ld, nullptr);
    for (int i = i0; i < i1; ++i) {
      float* dst = out + size_t(i) * a.nKv;
      const float* src = P + size_t(i - i0) * ld;
      std::fill(dst, dst + k0, 0.0f);
      std::copy(src + k0, src + L, dst + k0);
      std::fill(dst + L, dst + a.nKv, 0.0f);
    }
  });
}

}  // namespace ll::kern
