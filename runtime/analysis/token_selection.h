// Token selection methods of ALGORITHMS.md §2-5 (GemFilter, SnapKV, H2O, PromptDistill) as pure
// functions over one layer's post-RoPE Q/K (or attention probabilities), plus the layer sweep and
// the Jaccard overlap between methods. Running the compressed prompt is in selection_runs.h.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "runtime/api/trace.h"

namespace ll::rt::ana {

// One layer's post-RoPE queries of rows [qRow0, T) ([T - qRow0, nHead*headDim], q points at row
// qRow0) and keys [T, nHeadKv*headDim] (GQA: query head h uses key head h / (nHead / nHeadKv)).
struct QkView {
  const float* q = nullptr;
  const float* k = nullptr;
  int T = 0, nHead = 0, nHeadKv = 0, headDim = 0;
  float scale = 1.0f;  // 1/sqrt(d) for the softmax methods
  int qRow0 = 0;
  double dot(int h, int i, int j) const;             // q_i,h . k_j,kv(h), double accumulation
  std::shared_ptr<const std::vector<float>> qOwned;  // recomputed queries q points into
};
// Queries from row firstRow on: the trace's stored tail when it covers them, else recomputed
// (Trace::queries). Throws when the trace has no capture.
QkView qkView(const Trace& tr, int layer, int firstRow = 0);

// Attention probabilities of one query row of one head: row[0..T), masked keys 0.
using AttnRowFn = std::function<void(int head, int query, float* row)>;
// The trace's own probabilities of `layer` from query row firstRow on, as its pass computed them
// (interventions, window, soft-cap, sinks): rt::AttentionRows (runtime/engine/attention_rows.h).
AttnRowFn attnRows(const Trace& tr, int layer, int firstRow = 0);

struct Selection {
  std::vector<int> kept;      // ascending; per-head methods: the union over heads
  std::vector<float> scores;  // summed methods: [T] score per position after pooling
  std::vector<std::vector<int>> keptPerHead;      // per-head methods: [nHead][...] ascending
  std::vector<std::vector<float>> scoresPerHead;  // per-head methods: [nHead][T]
};

// GemFilter (§2): s_j = sum_h q_last,h . k_j,h (raw, no scale, no softmax), avg pool (kernel 5),
// top min(k, T) over all positions, sorted.
std::vector<float> gemFilterRawScores(const QkView& v);
Selection gemFilter(const QkView& v, int k = 1024, int kernel = 5);

// SnapKV (§3): window W of last queries, softmax over all keys with the causal mask, sum over the
// window rows of the attention to positions [0, T-W), pooling (avg, or max), per head top (C - W)
// of those plus the window. When T <= C every position is kept. scores: [T-W] per head.
Selection snapKv(const AttnRowFn& rows, int T, int nHead, int capacity = 1024, int window = 32,
                 int kernel = 5, bool maxPooling = false);

// H2O (§4): per head, score = column sums of the attention over all query rows (colSum [nHead, T],
// as Trace::LayerTrace::colSum holds it); keep the `recent` last positions plus the `heavy`
// highest-scoring earlier ones (heavy hitters are chosen among positions < T - recent, as in H2O's
// eviction code). scores: the column sums.
Selection h2o(const std::vector<float>& colSum, int T, int nHead, int heavy, int recent = 32);
// Column sums [nHead, T] from attention rows (for attention maps not taken from a trace).
std::vector<float> columnSums(const AttnRowFn& rows, int T, int nHead);

// PromptDistill stage (§5): among the candidate sequence indices (ascending; the survivors of the
// previous stage), score = mean over heads of q_e . k_j * scale with e = the last candidate;
// candidates at index >= lastQuery (default: e) score 0 and are always kept; optional avg pooling
// over the candidate sequence; keep the top k of the others plus all of those. scores: one per
// candidate (after pooling).
Selection promptDistillStage(const QkView& v, const std::vector<int>& candidates, int k = 1024,
                             int kernel = 5, int lastQuery = -1);

// GemFilter's kept set at every layer of a trace: [nLayer][kept].
std::vector<std::vector<int>> gemFilterLayerSweep(const Trace& tr, int k, int kernel = 5);

}  // namespace ll::rt::ana
