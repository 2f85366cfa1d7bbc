// What the in-process pipeline tests (tst_pipeline_*) share: a pipeline's trace against one
// engine's, array by array and bit for bit (NaNs equal NaNs), and the positions 0..n-1 of a prompt.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "lltest.h"
#include "runtime/api/session.h"
#include "runtime/api/trace.h"

namespace pipetest {

inline void same(const std::vector<float>& a, const std::vector<float>& b,
                 const std::string& what) {
  QVERIFY2(a.size() == b.size(),
           what + ": sizes " + std::to_string(a.size()) + " vs " + std::to_string(b.size()));
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i]) && !(std::isnan(a[i]) && std::isnan(b[i])))
      QFAIL(what + ": differs at " + std::to_string(i) + " (" + std::to_string(a[i]) + " vs " +
            std::to_string(b[i]) + ")");
}

// got: a pipeline's trace (its layers and logits fetched, or fetched on read); want: one
// engine's. maps (optional): a session that recomputes each layer's attention map from both.
inline void sameTrace(ll::rt::Session* maps, const ll::rt::Trace& got, const ll::rt::Trace& want,
                      const std::string& what) {
  using ll::rt::LayerTrace;
  QCOMPARE(got.nTokens, want.nTokens);
  QVERIFY2(got.reusedRows == want.reusedRows, what + ": reused " + std::to_string(got.reusedRows) +
                                                  " rows, one process " +
                                                  std::to_string(want.reusedRows));
  same(got.logits, want.logits, what + " logits");
  same(got.embd, want.embd, what + " embd");
  same(got.finalNormRows(0, got.nTokens), want.finalNormRows(0, want.nTokens),
       what + " final norm");
  for (int l = 0; l < want.nLayer; ++l) {
    const LayerTrace &a = got.layers[size_t(l)], &b = want.layers[size_t(l)];
    const std::string ls = what + " layer " + std::to_string(l) + " ";
    same(a.resid, b.resid, ls + "resid");
    same(a.residMid, b.residMid, ls + "residMid");
    same(a.k, b.k, ls + "k");
    same(a.qTail, b.qTail, ls + "qTail");
    same(got.queries(l, 0, got.nTokens), want.queries(l, 0, want.nTokens), ls + "queries");
    same(a.entropy, b.entropy, ls + "entropy");
    same(a.lastRow, b.lastRow, ls + "lastRow");
    same(a.colSum, b.colSum, ls + "colSum");
    same(a.routerLogits, b.routerLogits, ls + "router logits");
    same(a.routerProbs, b.routerProbs, ls + "router probs");
    same(a.expertWeights, b.expertWeights, ls + "expert weights");
    QVERIFY2(a.experts == b.experts, ls + "experts");
    if (maps)
      same(maps->attentionMap(got, l, -1), maps->attentionMap(want, l, -1), ls + "attention map");
  }
}

inline std::vector<int32_t> positionsOf(const std::vector<int32_t>& ids) {
  std::vector<int32_t> p(ids.size());
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<int32_t>(i);
  return p;
}

}  // namespace pipetest
