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

// Logit of a raw dot product q.k (float and double variants: the reference runs in double).
LL_ATTN_HD float attnLogit(const AttnMask& m, float dot, float scale) {
  const float s = dot * scale;
  return m.softcap > 0.0f ? m.softcap * tanhf(s / m.softcap) : s;
}
LL_ATTN_HD double attnLogit(const AttnMask& m, double dot, double scale) {
  const double s = dot * scale;
  return m.softcap > 0.0f ? double(m.softcap) * tanh(s / double(m.softcap)) : s;
}

}  // namespace ll::kern
