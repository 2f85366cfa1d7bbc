// Trace: the immutable result of one forward pass: tokens, logits and everything captured per layer
// (residual streams, post-RoPE Q/K, attention statistics, MoE routing). Memory is O(L * T * d):
// full attention maps are never stored; Session::attentionMap recomputes one from Q and K on
// request. The large per-row arrays are TraceTensors: host arrays on the CPU, backend buffers
// downloaded lazily on first host access on a GPU (read them like const std::vector<float>).
//
// Queries: on the CPU a trace stores the post-RoPE Q of its last kQueryTailRows rows only and
// recomputes earlier rows on request from the layer's stored input (queries()), which keeps a
// full-capture trace of a 1.1B model within the memory budget (Q alone was a quarter of it); the
// final norm is likewise recomputed from the last resid. GPU traces store both (qFrom == 0).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/api/request.h"
#include "runtime/api/trace_tensor.h"

namespace ll::rt {

struct Trace;

// Recomputes what a CPU trace does not store from what it does: post-RoPE queries of one layer
// from the layer's stored input (embd or the previous layer's resid), and the final norm from the
// last layer's resid. Thread-safe; made by the engine that produced the trace.
class TraceRecompute {
 public:
  virtual ~TraceRecompute() = default;
  // out: [r1 - r0, nHead * headDim]
  virtual void queries(const Trace& tr, int layer, int r0, int r1, float* out) const = 0;
  // out: [r1 - r0, nEmbd]
  virtual void finalNorm(const Trace& tr, int r0, int r1, float* out) const = 0;
};

struct LayerTrace {
  TraceTensor<float> resid;     // [T, nEmbd] residual stream after the layer (steering included)
  TraceTensor<float> residMid;  // [T, nEmbd] after attention + residual, before the FFN
  // [T - qFrom, nHead * headDim] post-RoPE (and post q-norm) queries of rows [qFrom, T); read any
  // row with Trace::queries().
  TraceTensor<float> qTail;
  TraceTensor<float> k;  // [T, nHeadKv * headDim] post-RoPE keys
  // Only with CaptureOptions::components (empty otherwise): the values patches act on.
  TraceTensor<float> attnOut;  // [T, nEmbd] attention output as added to the residual
  TraceTensor<float> mlpOut;   // [T, nEmbd] FFN / MoE output as added to the residual
  TraceTensor<float> headOut;  // [T, nHead * headDim] attention per head, before W_O
  std::vector<float> entropy;  // [nHead, T] attention entropy per head and query row
  std::vector<float> lastRow;  // [nHead, T] attention of the last query row
  std::vector<float> colSum;   // [nHead, T] sum over query rows of attention to each key
  // MoE layers only (empty otherwise)
  std::vector<float> routerLogits;   // [T, nExpert] raw router logits (before interventions)
  std::vector<float> routerProbs;    // [T, nExpert] softmax of the logits after interventions
  std::vector<int32_t> experts;      // [T, nExpertUsed] chosen, by descending probability
  std::vector<float> expertWeights;  // [T, nExpertUsed] weight applied to each chosen expert
};

// The architecture's attention semantics of one layer (sliding window, soft-cap, sinks), recorded
// with the trace so every reader (maps, head grid, selections, exports) applies the pass's own.
struct LayerAttention {
  int window = 0;            // 0: none
  float softcap = 0.0f;      // 0: none
  std::vector<float> sinks;  // [nHead] sink logits (host), empty: none
};

struct Trace {
  // Shapes
  int nTokens = 0;
  int nLayer = 0;
  int nEmbd = 0;
  int nHead = 0;
  int nHeadKv = 0;
  int headDim = 0;
  int nVocab = 0;
  int nExpert = 0;
  int nExpertUsed = 0;
  float attnScale = 1.0f;
  std::vector<LayerAttention> layerAttn;  // [nLayer]

  std::vector<int32_t> ids;          // tokens run (after any subset)
  std::vector<int32_t> positions;    // position ids used
  std::vector<int32_t> promptIndex;  // index of each token in the prompt (subset), else 0..T-1
  std::vector<std::string> pieces;
  std::vector<std::pair<int, int>> spans;  // byte spans in the prompt text ({-1,-1} when unknown)

  bool captured = false;      // false: only logits are filled
  bool allLogits = true;      // false: logits holds the last position only
  TraceTensor<float> logits;  // [T or 1, nVocab]
  TraceTensor<float> embd;    // [T, nEmbd] input of block 0
  // [T, nEmbd] input of the LM head; empty on the CPU (read it with finalNormRows()).
  TraceTensor<float> finalNorm;
  std::vector<LayerTrace> layers;
  // First row whose queries are stored (LayerTrace::qTail); earlier rows come from recompute.
  int qFrom = 0;
  std::shared_ptr<const TraceRecompute> recompute;  // null when everything is stored (GPU)

  // How many leading rows were taken from the previous pass (prefix reuse) rather than computed.
  int reusedRows = 0;
  // What produced this trace: interventions (every attention mask, for recomputing maps) and
  // capture.
  RunRequest request;

  static constexpr int kQueryTailRows = 32;  // rows of Q a CPU trace stores (the last ones)

  const float* logitsRow(int t) const;  // t in [0, T); throws when the row was not kept
  // Post-RoPE queries of rows [r0, r1) of `layer`, [r1 - r0, nHead * headDim]: stored rows are
  // copied, earlier ones recomputed (to float rounding of the pass's values). Layers an early-exit
  // pass did not reach read as zeros. Throws on a trace without capture or bad ranges.
  std::vector<float> queries(int layer, int r0, int r1) const;
  // Rows [r0, r1) of the LM head's input (the final norm), stored or recomputed; zeros for an
  // early-exit pass.
  std::vector<float> finalNormRows(int r0, int r1) const;
  // Calls f on every TraceTensor of the trace: the one list of them for code that handles their
  // storage.
  template <class F>
  void forEachTensor(F&& f) {
    visitTensors(*this, f);
  }
  template <class F>
  void forEachTensor(F&& f) const {
    visitTensors(*this, f);
  }
  size_t bytes() const;        // bytes held by the captured arrays (benchmarks)
  size_t deviceBytes() const;  // of which in backend memory

 private:
  template <class Self, class F>
  static void visitTensors(Self& t, F& f) {
    f(t.logits);
    f(t.embd);
    f(t.finalNorm);
    for (auto& L : t.layers)
      for (auto* x : {&L.resid, &L.residMid, &L.qTail, &L.k, &L.attnOut, &L.mlpOut, &L.headOut})
        f(*x);
  }
};

}  // namespace ll::rt
