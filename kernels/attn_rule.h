// The one definition of attention semantics: which keys a query row sees (causal, sliding window,
// knockout blocks, per-head keep) and how a raw q.k score becomes a logit (scale, soft-cap), plus
// the attention-sink term of the softmax denominator. Every attention kernel (reference, CPU,
// CUDA) and every place that materializes probabilities calls these; none writes its own rule.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define LL_ATTN_HD __host__ __device__ __forceinline__
#else
#define LL_ATTN_HD inline
#endif

namespace ll::kern {

// The mask and score parameters of one attention call (a view of AttnArgs's mask fields; plain
// data so CUDA kernels take it by value). Pointers are in the memory of the backend that runs the
// kernel.
struct AttnMask {
  int window = 0;                   // > 0: query at cache index qi sees keys j with qi - j < window
  float softcap = 0.0f;             // > 0: logit = softcap * tanh(scale * q.k / softcap)
  const uint8_t* blockQ = nullptr;  // [nKv] knockout: a query with blockQ != 0 ...
  const uint8_t* blockK = nullptr;  // [nKv] ... does not see keys with blockK != 0 (except itself)
  const uint8_t* headKeep = nullptr;  // [nHeadKv, headKeepLen] per-kv-head eviction (0 = hidden)
  int headKeepLen = 0;
  int headKeepFrom = 0;  // rows at cache index >= this are subject to headKeep
};

// Whether the query at cache index qi sees key j through kv head kvh. A query always sees its own
// key (a row is never empty), whatever the knockout or eviction says; the causal and window limits
// never hide it either.
LL_ATTN_HD bool attnVisible(const AttnMask& m, int qi, int j, int kvh) {
  if (j > qi) return false;                              // causal
  if (m.window > 0 && qi - j >= m.window) return false;  // sliding window
  if (j == qi) return true;
  if (m.blockQ && m.blockK && m.blockQ[qi] != 0 && m.blockK[j] != 0) return false;
  if (m.headKeep && qi >= m.headKeepFrom && j < m.headKeepLen &&
      m.headKeep[size_t(kvh) * size_t(m.headKeepLen) + size_t(j)] == 0)
    return false;
  return true;
}

// First key index the query at cache index qi can see by the causal/window limits alone (keys
// [attnFirstKey, qi] are candidates; knockout and eviction may hide some of them).
LL_ATTN_HD int attnFirstKey(const AttnMask& m, int qi) {
  return m.window > 0 && qi - m.window + 1 > 0 ? qi - m.window + 1 : 0;
}

// Whether knockout or eviction may hide keys inside the causal/window range (then kernels test
// key by key; otherwise a whole tile inside that range is visible).
LL_ATTN_HD bool attnKeyMasks(const AttnMask& m) {
  return (m.blockQ && m.blockK) || (m.headKeep && m.headKeepLen > 0);
}

// Last query cache index (< nKv) that key j is a candidate for by the window: queries past it see
// nothing of key j, so a kernel walking queries per key may stop there.
LL_ATTN_HD int attnLastQuery(const AttnMask& m, int j, int nKv) {
  return m.window > 0 && m.window < nKv - j ? j + m.window - 1 : nKv - 1;
}

// Whether every query at cache index in [q0, q1] has every key in [k0, k1] inside its causal and
// window limits (knockout and eviction aside): such a tile needs no per-key test.
LL_ATTN_HD bool attnTileInside(const AttnMask& m, int q0, int q1, int k0, int k1) {
  return k1 <= q0 && k0 >= attnFirstKey(m, q1);
}

// Logit of a raw dot product q.k (float and double variants: the reference runs in double).
LL_ATTN_HD float attnLogit(const AttnMask& m, float dot, float scale) {
  const float s = dot * scale;
  return m.softcap > 0.0f ? m.softcap * tanhf(s / m.softcap) : s;
}
LL_ATTN_HD double attnLogit(const AttnMask& m, double dot, double scale) {
  const double s = dot * scale;
  return m.softcap > 0.0f ? double(m.softcap) * tanh(s / double(m.softcap)) : s;
}

// Attention sinks (gpt-oss): head h's sink logit joins its softmax denominator as one more
// outcome that multiplies no value, with the same max shift as the keys:
//   m = max(max_j logit_j, sink),  p_j = e^(logit_j - m) / (sum_k e^(logit_k - m) + e^(sink - m)),
// so a row's key probabilities sum to < 1 (the stored maps, colSum and lastRow hold these); the
// entropy counts the sink as an outcome: H = -sum_j p_j ln p_j - p_sink ln p_sink. A -inf sink is
// no sink. sinks: f32 [nHead] in the kernel's memory, or nullptr.
LL_ATTN_HD float attnSinkLogit(const float* sinks, int h) {
  return sinks ? sinks[h] : -INFINITY;
}

// Joins the sink logit to one row's online-softmax state, m = running max, l = sum_j e^(s_j - m),
// A = sum_j e^(s_j - m) (s_j - m) (entropy = ln l - A / l; Base2: logits, m and A in log2 units,
// e = 2^x, entropy = ln l - ln 2 A / l). Returns the factor by which the row's unnormalized output
// (sum_j e^(s_j - m) v_j) must be scaled; with a -inf sink the state is left exactly as it was.
template <bool Base2 = false>
LL_ATTN_HD float attnJoinSink(float sink, float& m, float& l, float& A) {
  const float mNew = fmaxf(m, sink);
  if (mNew == -INFINITY || sink == -INFINITY) return 1.0f;
  const float alpha = l > 0.0f ? (Base2 ? exp2f(m - mNew) : expf(m - mNew)) : 0.0f;
  const float d = sink - mNew;
  const float e = Base2 ? exp2f(d) : expf(d);
  A = (l > 0.0f ? alpha * (A + (m - mNew) * l) : 0.0f) + e * d;
  l = alpha * l + e;
  m = mNew;
  return alpha;
}

}  // namespace ll::kern
