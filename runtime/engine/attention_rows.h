// The one host materializer of attention probabilities from a trace: any layer, head and query
// rows, exactly as the pass computed them (its request's knockouts and per-head eviction, the
// layer's sliding window, soft-cap and sinks). It evaluates the shared rule of kernels/attn_rule.h
// through the reference rows, so the head grid, the selection methods and the backend maps
// (Session::attentionMap, same rule on the backend) cannot disagree about what is masked.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "runtime/api/trace.h"

namespace ll::rt {

// Attention rows of one layer, from query row firstRow on (their queries are fetched once).
class AttentionRows {
 public:
  AttentionRows(const Trace& tr, int layer, int firstRow = 0);
  // row[0..T): probabilities of query `query` (>= firstRow) of head `head`; masked keys are 0.
  void row(int head, int query, float* out) const;
  int nTokens() const { return m_T; }

 private:
  const Trace* m_tr;
  int m_layer, m_first, m_T;
  std::shared_ptr<const std::vector<float>> m_q;  // [T - firstRow, nHead * headDim]
};

}  // namespace ll::rt
