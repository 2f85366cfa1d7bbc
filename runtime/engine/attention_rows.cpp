#include "runtime/engine/attention_rows.h"

#include <stdexcept>
#include <string>

#include "kernels/reference/reference_ops.h"
#include "runtime/engine/attention_masks.h"

namespace ll::rt {

AttentionRows::AttentionRows(const Trace& tr, int layer, int firstRow)
    : m_tr(&tr), m_layer(layer), m_first(firstRow), m_T(tr.nTokens) {
  if (!tr.captured || layer < 0 || layer >= static_cast<int>(tr.layers.size()))
    throw std::invalid_argument("attention rows: layer " + std::to_string(layer) +
                                " is not captured in this trace");
  if (firstRow < 0 || firstRow >= m_T)
    throw std::invalid_argument("attention rows: first row out of range");
  const size_t kvd = size_t(tr.nHeadKv) * tr.headDim;
  if (tr.layers[size_t(layer)].k.size() != size_t(m_T) * kvd)
    throw std::invalid_argument("attention rows: the trace's keys do not match its shape");
  m_q = std::make_shared<const std::vector<float>>(tr.queries(layer, firstRow, m_T));
}

void AttentionRows::row(int head, int query, float* out) const {
  const Trace& tr = *m_tr;
  if (head < 0 || head >= tr.nHead || query < m_first || query >= m_T)
    throw std::invalid_argument("attention rows: head or query out of range");
  const size_t qd = size_t(tr.nHead) * tr.headDim;
  // One query row against keys [0, query]; host memory throughout.
  const float* k = tr.layers[size_t(m_layer)].k.data();
  kern::AttnArgs a =
      layerAttnArgs(tr, m_layer, 1, query + 1, m_q->data() + size_t(query - m_first) * qd, k, k,
                    nullptr, nullptr, {});
  const Interventions& iv = tr.request.interventions;
  const auto segs = maskSegments(iv, m_layer, query, query + 1);
  if (!segs.empty() && !segs[0].blockQ.empty()) {
    a.blockQ = segs[0].blockQ.data();
    a.blockK = segs[0].blockK.data();
  }
  if (iv.eviction && m_layer < static_cast<int>(iv.eviction->keep.size()) &&
      !iv.eviction->keep[size_t(m_layer)].empty() && iv.eviction->length > 0) {
    a.headKeep = iv.eviction->keep[size_t(m_layer)].data();
    a.headKeepLen = iv.eviction->length;
    a.headKeepFrom = iv.eviction->fromIndex;
  }
  std::vector<double> p(size_t(a.nKv));
  kern::ref::attnRowProbs(a, head, 0, p.data());
  for (int j = 0; j < m_T; ++j) out[j] = j < a.nKv ? static_cast<float>(p[size_t(j)]) : 0.0f;
}

}  // namespace ll::rt
