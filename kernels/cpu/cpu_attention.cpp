#include "kernels/cpu/cpu_attention.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/scratch.h"
#include "kernels/reference/reference_ops.h"

namespace ll::kern {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using StridedMap = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
using StridedOut = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;

// Query rows handled together: one GEMM for their scores, one for their outputs.
constexpr int kBlockQ = 32;

// Probabilities of query rows [i0, i1) of head h into P (row stride ld); columns [0, L) are
// written (L = keys visible to the last row of the block, returned), zeros past each row's own
// visible range. ent (optional) receives each row's entropy.
int blockProbs(const AttnArgs& a, int h, int i0, int i1, float* P, int64_t ld, float* ent) {
  const int kvh = h / (a.nHead / a.nHeadKv);
  const int hd = a.headDim;
  const int base = a.nKv - a.nQ;  // cache index of query row 0
  const int L = base + i1;        // keys 0..base+i1-1
  StridedMap Q(a.q + size_t(i0) * a.nHead * hd + size_t(h) * hd, i1 - i0, hd,
               Eigen::OuterStride<>(int64_t(a.nHead) * hd));
  StridedMap K(a.k + size_t(kvh) * hd, L, hd, Eigen::OuterStride<>(int64_t(a.nHeadKv) * hd));
  StridedOut S(P, i1 - i0, L, Eigen::OuterStride<>(ld));
  S.noalias() = (Q * K.transpose()) * a.scale;

  const uint8_t* keep0 = a.headKeep ? a.headKeep + size_t(kvh) * a.headKeepLen : nullptr;
  for (int i = i0; i < i1; ++i) {
    const int qi = base + i;
    float* s = P + size_t(i - i0) * ld;
    const bool knock = a.blockQ && a.blockK && a.blockQ[qi] != 0;
    const uint8_t* keep = keep0 && qi >= a.headKeepFrom ? keep0 : nullptr;
    const int nVis = qi + 1;
    const int nKeep = keep ? std::min(nVis, a.headKeepLen) : 0;
    const bool masking = knock || nKeep > 0;
    // Key j is hidden from this row by the knockout or the per-head eviction (never its own key).
    auto hidden = [&](int j) {
      return j != qi && ((knock && a.blockK[j] != 0) || (j < nKeep && keep[j] == 0));
    };
    float mx = -std::numeric_limits<float>::infinity();
    if (masking) {
      for (int j = 0; j < nVis; ++j)
        if (!hidden(j)) mx = std::max(mx, s[j]);
    } else {
      mx = Eigen::Map<Eigen::ArrayXf>(s, nVis).maxCoeff();
    }
    Eigen::Map<Eigen::ArrayXf> row(s, nVis);
    row -= mx;  // now <= 0 on visible keys
    if (masking)
      for (int j = 0; j < nVis; ++j)
        if (hidden(j)) s[j] = 0.0f;  // shifted score 0; weight zeroed below
    Eigen::ArrayXf shifted;
    if (ent) shifted = row;
    row = row.exp();
    if (masking)
      for (int j = 0; j < nVis; ++j)
        if (hidden(j)) s[j] = 0.0f;
    const float z = row.sum();
    if (ent) {
      // H = ln Z - sum_j p_j (s_j - max): no log of tiny probabilities, exact zeros drop out.
      const float dot = (row * shifted).sum();
      ent[i - i0] = std::log(z) - dot / z;
    }
    row *= 1.0f / z;
    std::fill(s + nVis, s + L, 0.0f);
  }
  return L;
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
      const int L = blockProbs(a, h, i0, i1, buf, ld, a.entropy ? ent : nullptr);
      StridedMap P(buf, i1 - i0, L, Eigen::OuterStride<>(ld));
      if (a.out) {
        StridedMap V(a.v + size_t(kvh) * hd, L, hd, Eigen::OuterStride<>(int64_t(a.nHeadKv) * hd));
        StridedOut O(a.out + size_t(i0) * a.nHead * hd + size_t(h) * hd, i1 - i0, hd,
                     Eigen::OuterStride<>(int64_t(a.nHead) * hd));
        O.noalias() = P * V;
      }
      if (a.entropy)
        for (int i = i0; i < i1; ++i) a.entropy[size_t(h) * a.nQ + i] = ent[i - i0];
      if (a.colSum) {
        Eigen::Map<Eigen::RowVectorXf> col(a.colSum + size_t(h) * a.nKv, L);
        col += P.colwise().sum();
      }
      if (a.lastRow && i1 == a.nQ) {
        float* lr = a.lastRow + size_t(h) * a.nKv;
        const float* src = buf + size_t(i1 - 1 - i0) * ld;
        std::copy(src, src + L, lr);
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
    const int L = blockProbs(a, head, i0, i1, P, ld, nullptr);
    for (int i = i0; i < i1; ++i) {
      float* dst = out + size_t(i) * a.nKv;
      std::copy(P + size_t(i - i0) * ld, P + size_t(i - i0) * ld + L, dst);
      std::fill(dst + L, dst + a.nKv, 0.0f);
    }
  });
}

}  // namespace ll::kern
