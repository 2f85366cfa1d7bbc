// The one forward-pass engine for every architecture in ModelSpec: embeddings, attention (GQA,
// RoPE, q/k norm, biases), dense or MoE FFN, capture into a Trace, interventions, and a KV cache
// with prefix reuse. Rows whose inputs did not change are taken from the previous pass.
//
// Prefix reuse: the longest prefix of (token, position) pairs shared with the cache, cut at the
// first position an intervention change acts on (steering: its start; knockout: its first query
// row; router edits: 0), and at least the last row, is recomputed. Per-row captures are copied from
// the previous trace. Column sums (sum over query rows) of the kept rows are the previous sums
// minus what the previous pass's rows past the prefix contributed, recomputed from its stored Q/K
// (and its knockout masks) - cost proportional to the rows that changed; tests compare with full
// runs. Cancellation: the progress callback returning false stops between layers; the cache then
// holds only the reused prefix, so the next run stays exact.
//
// Memory: when the cache holds the only reference to the previous trace (the client dropped it),
// the new trace is built in that trace's buffers: its prefix rows are already in place, and only
// one trace exists at a time. Host captures of traces that die otherwise (the client dropped an
// older one, resetCache) go to a CapturePool that the next pass takes its buffers from, so a pass
// does not fault in and zero fresh memory. Captures live where the backend computes: host arrays on
// a backend with host memory (CPU), backend buffers otherwise (no per-layer download; a trace
// copies a tensor to the host on first host access). Logits are written by the LM head straight
// into the trace. With host captures a trace stores the queries of its last Trace::kQueryTailRows
// rows only; earlier rows are projected again from the stored layer input when asked
// (Trace::queries).
//
// Pipeline stage (runtime/dist): setLayerRange(first, last) makes the engine run layers
// [first, last) only, with a KV cache for those layers. runStage() then starts from the residual
// stream entering `first` (the previous stage's output; the first stage embeds the tokens) and
// ends with the residual leaving `last - 1` (the last stage runs the final norm and LM head
// instead). The stage's trace holds its own layers, plus its input as layers[first - 1].resid
// (queries of `first` are projected again from it). Every layer runs the same code as in a whole
// pass, so a chain of stages gives the whole pass's values bit for bit.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "kernels/backend.h"
#include "runtime/api/request.h"
#include "runtime/api/trace.h"
#include "runtime/engine/activation_link.h"
#include "runtime/engine/capture_pool.h"
#include "runtime/engine/model_weights.h"
#include "runtime/model/model.h"

namespace ll::rt {

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("cancelled") {}
};

// Called after each layer with (layersDone, nLayer). Return false to cancel (throws Cancelled).
using EngineProgress = std::function<bool(int, int)>;

class Engine {
 public:
  // keepAlive (optional) owns `backend`: traces holding backend buffers keep it alive.
  // sharedWeights (optional): weights already loaded on this backend by another engine of the same
  // model, so engines used from one thread share one copy (the GUI's helper sessions on a GPU).
  // scope: the weights to bind when none are shared (a pipeline stage's share); the engine's
  // layer range starts as the layers they hold whole.
  Engine(const Model& model, kern::Backend& backend, std::shared_ptr<kern::Backend> keepAlive = {},
         std::shared_ptr<ModelWeights> sharedWeights = {}, WeightScope scope = {});
  ~Engine();

  // Runs ids at positions with the interventions. Reuses the longest prefix whose inputs (token,
  // position, interventions acting there) match the cache. publish=false: the result does not
  // replace the trace kept for reuse (decode steps, generation prompts).
  std::shared_ptr<const Trace> run(const std::vector<int32_t>& ids,
                                   const std::vector<int32_t>& positions, const Interventions& iv,
                                   const CaptureOptions& capture,
                                   const EngineProgress& progress = {}, bool publish = true,
                                   const std::function<void(Trace&)>& annotate = {});
  // A pipeline over several processes (runtime/dist) that run() hands every pass to once this
  // engine is its first stage, with run()'s arguments, so whatever runs passes on the engine
  // (sessions, generation, the analyses) runs them over the stages. The trace it returns carries
  // the logits and captures the caller reads. Unset (empty): run() computes here.
  using PipelineRun = std::function<std::shared_ptr<const Trace>(
      const std::vector<int32_t>& ids, const std::vector<int32_t>& positions,
      const Interventions& iv, const CaptureOptions& capture, const EngineProgress& progress,
      bool publish, const std::function<void(Trace&)>& annotate)>;
  void setPipeline(PipelineRun run) { m_pipeline = std::move(run); }

  // One pipeline stage's pass: `reuse` leading rows are taken from the cache (the pipeline's
  // single decision, at most plannedReuse()); `input` fills the residual entering firstLayer()
  // for rows [reuse, T) ([T - reuse, nEmbd], straight into the pass's backend buffer; not asked
  // of the first stage); a stage that is not the last hands the residual leaving its last layer
  // (same shape, in backend memory) to `output`, called only when a later stage runs (an early
  // exit may stop here). publish: as run()'s (false: generation's passes keep the trace kept for
  // reuse, as in one process).
  struct StageIO {
    int reuse = 0;
    ActivationLink* input = nullptr;
    ActivationLink* output = nullptr;
    bool publish = true;
  };
  std::shared_ptr<const Trace> runStage(const std::vector<int32_t>& ids,
                                        const std::vector<int32_t>& positions,
                                        const Interventions& iv, const CaptureOptions& capture,
                                        const StageIO& io, const EngineProgress& progress = {});
  // The layer a pass with these capture options stops before: capture.lastLayer + 1 for an
  // early-exit pass, else nLayer.
  int stopLayer(const CaptureOptions& capture) const {
    return capture.lastLayer >= 0 ? std::min(m_model.spec.nLayer, capture.lastLayer + 1)
                                  : m_model.spec.nLayer;
  }
  // The trace the cache reuses rows of and how many (a pipeline stage holds it over a pass the
  // pipeline may cancel: held, the pass cannot build its trace in the old one's buffers).
  struct KeptTrace {
    std::shared_ptr<const Trace> trace;
    int rows = 0;
  };
  KeptTrace keptTrace() const { return {m_trace, m_traceRows}; }
  // Leaves the cache as one process leaves it after a cancelled pass of ids/positions/iv that took
  // `reuse` rows from the cache: the KV rows up to `reuse`, the pass's interventions, and `before`
  // (keptTrace() taken before the pass) with its rows up to `reuse` (none: no trace to reuse).
  // A pipeline stage calls it when the pass did not complete on every stage, whether its own part
  // finished, stopped between layers or never started, so all stages honour the next reuse.
  void cancelStage(const KeptTrace& before, const std::vector<int32_t>& ids,
                   const std::vector<int32_t>& positions, const Interventions& iv, int reuse);
  // The number of leading rows run() would take from the cache for this request.
  int plannedReuse(const std::vector<int32_t>& ids, const std::vector<int32_t>& positions,
                   const Interventions& iv, const CaptureOptions& capture);
  // Layers [first, last) only (a pipeline stage); clears the cache. Throws std::invalid_argument
  // when the weights do not hold every layer of the range.
  void setLayerRange(int first, int last);
  int firstLayer() const { return m_first; }
  int lastLayer() const { return m_last; }

  void resetCache();
  // Sizes the KV cache for `rows` tokens now (generation knows its final length: growing by
  // doubling would briefly hold two caches, one of them twice the size needed).
  void reserve(int rows) { ensureCapacity(rows, true); }
  // Keeps the model alive as long as traces that can recompute their queries from it.
  void setModelOwner(std::shared_ptr<const Model> model) { m_modelOwner = std::move(model); }
  int cachedRows() const { return static_cast<int>(m_cacheIds.size()); }
  // Bytes of the pass scratch kept between passes (tests, benchmarks). On a host-memory backend
  // a pass leaves only buffers of at most kKeepScratchBytes: the ones a generation step needs
  // (rows of d or ff floats) stay, a long prompt's go.
  size_t scratchBytes() const;
  static constexpr size_t kKeepScratchBytes = size_t(256) << 10;
  ModelWeights& weights() { return *m_weights; }
  std::shared_ptr<ModelWeights> sharedWeights() const { return m_weights; }
  const ModelSpec& spec() const { return m_model.spec; }
  kern::Backend& backend() { return m_backend; }
  // Captures in backend buffers (default: when the backend's memory is not host memory). Tests
  // force it on the CPU to check the lazily downloaded path against the host path.
  void setDeviceCaptures(bool on) { m_deviceCaptures = on; }
  bool deviceCaptures() const { return m_deviceCaptures; }
  // Host captures of dead traces kept for the next pass (tests, benchmarks). Between passes the
  // pool may hold up to one more trace's host captures than the client holds (at most
  // CapturePool::kMaxBytes).
  CapturePool::Stats capturePoolStats() const { return m_capturePool->stats(); }

  // First sequence index whose computation differs between two sets of interventions (T: none).
  static int invalidationPoint(const Interventions& a, const Interventions& b, int T);

 private:
  struct Scratch;
  struct Pass;
  std::shared_ptr<const Trace> runPass(const std::vector<int32_t>& ids,
                                       const std::vector<int32_t>& positions,
                                       const Interventions& iv, const CaptureOptions& capture,
                                       const EngineProgress& progress, bool publish,
                                       const std::function<void(Trace&)>& annotate,
                                       const StageIO* io);
  // The reusable prefix and the previous trace that supplies its captured rows (or nullptr).
  int reusablePrefix(const std::vector<int32_t>& ids, const std::vector<int32_t>& positions,
                     const Interventions& iv, const CaptureOptions& capture, const Trace** old);
  void ensureCapacity(int rows, bool exact = false);
  void validate(const std::vector<int32_t>& ids, const std::vector<int32_t>& positions,
                const Interventions& iv) const;
  void validatePatches(const Interventions& iv, int T) const;
  // Applies the pass's patches at `site` (of layer l) to rows [p, T) of x ([n, width] rows).
  void applyPatches(const Pass& ps, PatchSite site, int l, float* x, int width);
  void preparePass(Pass& ps);
  void finishPass(Pass& ps);
  void attentionBlock(int l, Pass& ps);
  void ffnBlock(int l, Pass& ps);
  void denseFfn(const ExpertWeights& w, const kern::Weight* upB, const kern::Weight* downB,
                const float* h, float* out, int n, Pass& ps);
  void moeFfn(int l, Pass& ps);
  void oldColSums(int l, Pass& ps);
  void captureQueryTail(int l, Pass& ps);
  void recomputeQueries(int l, const TraceTensor<float>& in, const std::vector<int32_t>& positions,
                        int r0, int r1, float* dst);
  void norm(const float* x, const kern::Weight* w, const kern::Weight* b, float* y, int n);
  // The scratch as attention_masks.h's MaskScratch.
  std::function<void*(const std::string&, size_t)> scratchFn();
  // Capture storage (engine_capture.cpp): allocation where the backend computes, prefix copies,
  // row writes.
  void setupCaptures(Trace& tr, Trace* recycled, const Trace* old, int p, bool early);
  void setupLayerStats(int l, LayerTrace& L, LayerTrace* O, bool inPlace, int T, int To, int p);
  void zeroUnreachedCaptures(Trace& tr, int p, int nRun);
  // `overwritten`: the pass writes every element (else they read as zeros).
  void allocCapture(TraceTensor<float>& t, size_t count, bool overwritten);
  void copyCapture(TraceTensor<float>& dst, const TraceTensor<float>& src, size_t count) {
    copyCaptureRows(dst, 0, src, 0, count);
  }
  void copyCaptureRows(TraceTensor<float>& dst, size_t dstOffset, const TraceTensor<float>& src,
                       size_t srcOffset, size_t count);
  // count elements of src from srcOffset into backend memory dst.
  void copyRows(float* dst, const TraceTensor<float>& src, size_t srcOffset, size_t count);
  void captureRows(TraceTensor<float>& t, size_t offset, const float* src, size_t count);
  float* backendPtr(TraceTensor<float>& t);

  const Model& m_model;
  kern::Backend& m_backend;
  std::shared_ptr<kern::Backend> m_backendOwner;
  bool m_deviceCaptures = false;
  std::shared_ptr<ModelWeights> m_weights;
  std::vector<LayerAttention> m_layerAttn;  // the spec's per-layer attention semantics
  int m_first = 0, m_last = 0;              // layers this engine runs: [m_first, m_last)
  PipelineRun m_pipeline;
  std::unique_ptr<Scratch> m_scratch;
  std::shared_ptr<const Model> m_modelOwner;
  // Recomputes queries for this engine's traces that store only their tail (host captures).
  std::shared_ptr<const TraceRecompute> m_recompute;

  // KV cache: per layer [capacity, nHeadKv*headDim]
  std::vector<kern::Buffer> m_k, m_v;
  int m_capacity = 0;
  std::vector<int32_t> m_cacheIds, m_cachePos;
  Interventions m_cacheIv;

  // Last published trace and how many of its leading rows still match the cache.
  std::shared_ptr<const Trace> m_trace;
  int m_traceRows = 0;
  // Host capture buffers of this engine's dead traces, for its next pass.
  std::shared_ptr<CapturePool> m_capturePool;
};

}  // namespace ll::rt
