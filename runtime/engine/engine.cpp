// Engine: pass orchestration, KV cache and prefix reuse. The per-layer blocks are in
// engine_layers.cpp, the trace's capture storage in engine_capture.cpp.
#include "runtime/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/api/intervention_text.h"
#include "runtime/engine/attention_masks.h"
#include "runtime/engine/engine_internal.h"
#include "runtime/engine/trace_recompute.h"

namespace ll::rt {

Engine::Engine(const Model& model, kern::Backend& backend, std::shared_ptr<kern::Backend> keepAlive,
               std::shared_ptr<ModelWeights> sharedWeights, WeightScope scope)
    : m_model(model),
      m_backend(backend),
      m_backendOwner(std::move(keepAlive)),
      m_deviceCaptures(!backend.hostMemory()),
      m_scratch(std::make_unique<Scratch>(backend)),
      m_capturePool(std::make_shared<CapturePool>()) {
  m_weights = sharedWeights ? std::move(sharedWeights)
                            : std::make_shared<ModelWeights>(model, backend, scope);
  m_k.resize(model.spec.nLayer);
  m_v.resize(model.spec.nLayer);
  const ModelSpec& s = model.spec;
  m_first = m_weights->firstLayer();
  m_last = m_weights->lastLayer();
  m_layerAttn.resize(size_t(s.nLayer));
  for (int l = 0; l < s.nLayer; ++l) {
    LayerAttention& la = m_layerAttn[size_t(l)];
    la.window = s.layerWindow(l);
    la.softcap = s.attnSoftcap;
    if (const kern::Weight* w = m_weights->sinks(l)) {
      la.sinks.resize(size_t(s.nHead));
      backend.download(la.sinks.data(), m_weights->vec(w), la.sinks.size() * 4);
    }
  }
}

Engine::~Engine() = default;

void Engine::resetCache() {
  m_cacheIds.clear();
  m_cachePos.clear();
  m_trace.reset();
  m_traceRows = 0;
}

void Engine::ensureCapacity(int rows, bool exact) {
  if (rows <= m_capacity) return;
  const ModelSpec& s = m_model.spec;
  int cap = exact ? rows : std::max({rows, 2 * m_capacity, 64});
  if (s.nCtx > 0) cap = std::min(cap, std::max(rows, s.nCtx));
  const size_t kvd = size_t(s.nHeadKv) * s.headDim;
  const size_t keep = m_cacheIds.size();
  for (int l = m_first; l < m_last; ++l) {
    kern::Buffer k(m_backend, size_t(cap) * kvd * 4), v(m_backend, size_t(cap) * kvd * 4);
    if (keep > 0) {
      m_backend.copy(k.get(), m_k[l].get(), keep * kvd * 4);
      m_backend.copy(v.get(), m_v[l].get(), keep * kvd * 4);
    }
    m_k[l] = std::move(k);
    m_v[l] = std::move(v);
  }
  m_backend.sync();
  m_capacity = cap;
}

int Engine::invalidationPoint(const Interventions& a, const Interventions& b, int T) {
  int p = T;
  auto steerDiff = [&](const std::vector<Steering>& x, const std::vector<Steering>& y) {
    for (const auto& s : x)
      if (std::find(y.begin(), y.end(), s) == y.end()) p = std::min(p, std::max(0, s.fromPos));
  };
  steerDiff(a.steering, b.steering);
  steerDiff(b.steering, a.steering);
  if (a.router != b.router) p = 0;  // routing acts on every position
  if (a.skips != b.skips) p = 0;    // a skipped layer changes every position
  // A patch at index t changes rows >= t only (attention is causal).
  auto patchDiff = [&](const std::vector<Patch>& x, const std::vector<Patch>& y) {
    for (const auto& pt : x)
      if (std::find(y.begin(), y.end(), pt) == y.end()) p = std::min(p, std::max(0, pt.index));
  };
  patchDiff(a.patches, b.patches);
  patchDiff(b.patches, a.patches);
  return std::min(p, maskInvalidationPoint(a, b, T));
}

void Engine::validate(const std::vector<int32_t>& ids, const std::vector<int32_t>& positions,
                      const Interventions& iv) const {
  const ModelSpec& s = m_model.spec;
  const int T = static_cast<int>(ids.size());
  if (T == 0) throw std::invalid_argument("empty prompt: nothing to run");
  if (positions.size() != ids.size())
    throw std::invalid_argument("positions and ids differ in length");
  if (s.nCtx > 0 && T > s.nCtx)
    throw std::invalid_argument("prompt of " + std::to_string(T) +
                                " tokens is longer than the model's context (" +
                                std::to_string(s.nCtx) + ")");
  // (the table's rows whether or not this stage binds it: every stage validates alike)
  const int64_t maxPos =
      m_weights->positionRows() > 0 ? m_weights->positionRows() : (s.nCtx > 0 ? s.nCtx : INT32_MAX);
  for (int i = 0; i < T; ++i) {
    if (ids[i] < 0 || ids[i] >= s.nVocab)
      throw std::invalid_argument("token id " + std::to_string(ids[i]) + " at index " +
                                  std::to_string(i) + " is out of range (vocabulary size " +
                                  std::to_string(s.nVocab) + ")");
    if (positions[i] < 0 || positions[i] >= maxPos)
      throw std::invalid_argument("position " + std::to_string(positions[i]) + " at index " +
                                  std::to_string(i) + " is out of range (0.." +
                                  std::to_string(maxPos - 1) + ")");
  }
  for (const auto& st : iv.steering) {
    if (st.layer < 0 || st.layer >= s.nLayer)
      throw std::invalid_argument("steering layer " + std::to_string(st.layer) +
                                  " is out of range (0.." + std::to_string(s.nLayer - 1) + ")");
    if (static_cast<int>(st.vector.size()) != s.nEmbd)
      throw std::invalid_argument("steering vector has " + std::to_string(st.vector.size()) +
                                  " values, the model's n_embd is " + std::to_string(s.nEmbd));
    if (!std::isfinite(st.alpha)) throw std::invalid_argument("steering alpha is not finite");
    for (float v : st.vector)
      if (!std::isfinite(v)) throw std::invalid_argument("steering vector contains NaN or Inf");
  }
  for (const auto& e : iv.router) {
    if (s.nExpert <= 0) throw std::invalid_argument("router edit on a model without experts");
    if (e.layer < 0 || e.layer >= s.nLayer || !m_weights->isMoe(e.layer))
      throw std::invalid_argument("router edit: layer " + std::to_string(e.layer) +
                                  " is not a MoE layer");
    if (e.expert < 0 || e.expert >= s.nExpert)
      throw std::invalid_argument("router edit: expert " + std::to_string(e.expert) +
                                  " is out of range (0.." + std::to_string(s.nExpert - 1) + ")");
    if (!std::isfinite(e.value)) throw std::invalid_argument("router edit value is not finite");
  }
  for (const auto& k : iv.skips)
    if (k.layer < 0 || k.layer >= s.nLayer)
      throw std::invalid_argument("layer skip: layer " + std::to_string(k.layer) +
                                  " is out of range (0.." + std::to_string(s.nLayer - 1) + ")");
  validatePatches(iv, T);
  validateMasks(iv, T, s.nLayer, s.nHeadKv);
}

void Engine::validatePatches(const Interventions& iv, int T) const {
  const ModelSpec& s = m_model.spec;
  for (const Patch& pt : iv.patches) {
    const std::string what = "patch (" + patchSiteName(pt.site) + ")";
    if (pt.site != PatchSite::Embedding && (pt.layer < 0 || pt.layer >= s.nLayer))
      throw std::invalid_argument(what + ": layer " + std::to_string(pt.layer) +
                                  " is out of range (0.." + std::to_string(s.nLayer - 1) + ")");
    if (pt.index < 0 || pt.index >= T)
      throw std::invalid_argument(what + ": sequence index " + std::to_string(pt.index) +
                                  " is out of range (0.." + std::to_string(T - 1) + ")");
    if (pt.site == PatchSite::Head && (pt.head < 0 || pt.head >= s.nHead))
      throw std::invalid_argument(what + ": head " + std::to_string(pt.head) +
                                  " is out of range (0.." + std::to_string(s.nHead - 1) + ")");
    const int width = pt.site == PatchSite::Head ? s.headDim : s.nEmbd;
    if (static_cast<int>(pt.value.size()) != width)
      throw std::invalid_argument(what + ": the value has " + std::to_string(pt.value.size()) +
                                  " entries, expected " + std::to_string(width));
    for (float v : pt.value)
      if (!std::isfinite(v)) throw std::invalid_argument(what + ": the value contains NaN or Inf");
  }
}

namespace {

bool exclusiveStorage(const Trace& t) {
  bool ok = true;
  t.forEachTensor([&](const TraceTensor<float>& x) { ok = ok && x.exclusive(); });
  return ok;
}

}  // namespace

std::shared_ptr<const Trace> Engine::run(const std::vector<int32_t>& ids,
                                         const std::vector<int32_t>& positions,
                                         const Interventions& iv, const CaptureOptions& capture,
                                         const EngineProgress& progress, bool publish,
                                         const std::function<void(Trace&)>& annotate) {
  if (m_pipeline) return m_pipeline(ids, positions, iv, capture, progress, publish, annotate);
  if (m_first != 0 || m_last != m_model.spec.nLayer)
    throw std::logic_error("this engine holds layers " + std::to_string(m_first) + "-" +
                           std::to_string(m_last - 1) +
                           " only (a pipeline stage): a whole pass needs the pipeline's other "
                           "ranks (an engine sharing its weights has none)");
  return runPass(ids, positions, iv, capture, progress, publish, annotate, nullptr);
}

size_t Engine::scratchBytes() const {
  return m_scratch->bytes();
}

int Engine::reusablePrefix(const std::vector<int32_t>& ids, const std::vector<int32_t>& positions,
                           const Interventions& iv, const CaptureOptions& capture,
                           const Trace** oldOut) {
  const ModelSpec& s = m_model.spec;
  const int T = static_cast<int>(ids.size());
  // How much of the cache survives.
  int common = 0;
  const int limit = std::min<int>(T, cachedRows());
  while (common < limit && m_cacheIds[common] == ids[common] &&
         m_cachePos[common] == positions[common])
    ++common;
  int p = std::min(common, invalidationPoint(m_cacheIv, iv, T));
  // Host captures keep the queries of the last rows only and no final norm (both are recomputed on
  // request).
  if (capture.enabled && !m_deviceCaptures && !m_recompute)
    if (auto sib = m_backend.sibling())
      m_recompute = std::make_shared<SiblingRecompute>(m_modelOwner, s, m_backendOwner, m_weights,
                                                       std::move(sib));
  const bool hostRecompute = capture.enabled && !m_deviceCaptures && m_recompute;
  const Trace* old = nullptr;
  if (capture.enabled || capture.allLogits) {
    // The previous trace must have stored what this one copies (its storage mode may differ when
    // device captures were switched in between).
    const bool usable =
        m_trace && (!capture.enabled || m_trace->captured) &&
        (!capture.allLogits || m_trace->allLogits) &&
        (!capture.enabled || (m_trace->recompute != nullptr) == hostRecompute) &&
        (!capture.enabled || !capture.components || m_trace->request.capture.components);
    if (usable) {
      p = std::min(p, m_traceRows);
      old = m_trace.get();
    } else {
      p = 0;
    }
  }
  *oldOut = old;
  return std::max(0, std::min(p, T - 1));  // the last row is always recomputed (stats, logits)
}

std::shared_ptr<const Trace> Engine::runPass(const std::vector<int32_t>& ids,
                                             const std::vector<int32_t>& positions,
                                             const Interventions& iv, const CaptureOptions& capture,
                                             const EngineProgress& progress, bool publish,
                                             const std::function<void(Trace&)>& annotate,
                                             const StageIO* io) {
  validate(ids, positions, iv);
  const ModelSpec& s = m_model.spec;
  const int T = static_cast<int>(ids.size());
  ensureCapacity(T);
  const Trace* old = nullptr;
  int p = reusablePrefix(ids, positions, iv, capture, &old);
  if (io) {  // every stage must keep the same rows: the pipeline decided once
    if (io->reuse < 0 || io->reuse > p)
      throw std::logic_error("pipeline stage: asked to reuse " + std::to_string(io->reuse) +
                             " rows, this stage's cache holds " + std::to_string(p));
    p = io->reuse;
  }
  const bool hostRecompute = capture.enabled && !m_deviceCaptures && m_recompute;

  // Early exit (capture.lastLayer >= 0): only layers [0, stop) run. A stage runs [m_first, m_last)
  // cut at stop: the stage holding the stop layer stops there, a stage wholly after it runs
  // nothing; every stage of an early pass treats its cache as one process does (below).
  const int stop = stopLayer(capture);
  const int nRun = std::min(m_last, stop);
  const bool early = stop < s.nLayer;
  // The previous trace's buffers are reused when only the cache refers to it (and to them) and
  // this pass replaces it.
  std::shared_ptr<Trace> recycled;
  if (old && publish && !early && m_trace.use_count() == 1 && exclusiveStorage(*m_trace))
    recycled = std::const_pointer_cast<Trace>(m_trace);  // made non-const by this engine
  auto keepAlive = m_trace;  // `old` stays valid even if this pass throws after m_trace changes
  m_cacheIds.resize(p);
  m_cachePos.resize(p);
  m_traceRows = std::min(m_traceRows, p);
  m_cacheIv = iv;
  if (recycled) {  // its rows past p are overwritten below: a failed pass leaves no trace to reuse
    m_trace.reset();
    m_traceRows = 0;
  }

  const int d = s.nEmbd, kvd = s.nHeadKv * s.headDim;
  const int To = old ? old->nTokens : 0;
  auto tr = makePooledTrace(m_capturePool);
  tr->nTokens = T;
  tr->nLayer = s.nLayer;
  tr->nEmbd = d;
  tr->nHead = s.nHead;
  tr->nHeadKv = s.nHeadKv;
  tr->headDim = s.headDim;
  tr->nVocab = s.nVocab;
  tr->nExpert = s.nExpert;
  tr->nExpertUsed = s.nExpertUsed;
  tr->attnScale = s.layerAttnScale();
  tr->layerAttn = m_layerAttn;
  tr->ids = ids;
  tr->positions = positions;
  tr->captured = capture.enabled;
  tr->allLogits = capture.allLogits;
  tr->reusedRows = p;
  tr->request.interventions = iv;
  tr->request.capture = capture;
  if (hostRecompute) {
    tr->qFrom = std::max(0, T - Trace::kQueryTailRows);
    tr->recompute = m_recompute;
  }
  setupCaptures(*tr, recycled.get(), old, p, early);

  // Scratch above kKeepScratchBytes goes back when the pass ends, however it ends (host memory
  // only: a device's buffers are not what the process's resident set holds).
  struct ScratchRelease {
    Scratch* scratch;
    ~ScratchRelease() {
      if (scratch) scratch->releaseLarge(kKeepScratchBytes);
    }
  } release{m_backend.hostMemory() ? m_scratch.get() : nullptr};
  Pass ps(*m_scratch);
  ps.ids = &ids;
  ps.positions = &positions;
  ps.iv = &iv;
  ps.cap = capture;
  ps.p = p;
  ps.T = T;
  ps.n = T - p;
  ps.tr = tr.get();
  ps.old = old;
  ps.inPlace = recycled != nullptr;
  ps.nRun = nRun;
  ps.first = m_first;
  ps.input = io ? io->input : nullptr;
  preparePass(ps);

  for (int l = m_first; l < nRun; ++l) {
    attentionBlock(l, ps);
    ffnBlock(l, ps);
    if (progress && !progress(l + 1 - m_first, nRun - m_first)) throw Cancelled();
  }
  if (m_last < stop) {  // the residual leaving this stage, for the next one
    io->output->sendFrom(ps.x, size_t(ps.n) * d);
  } else if (!early) {
    finishPass(ps);  // the last stage (or the whole model)
  }
  if (early) {
    // The later layers' KV rows past the reused prefix were not written: the cache keeps only
    // that prefix (as after a cancellation) and the trace is not kept for reuse. A pipeline
    // stage does the same whether it ran all, some or none of its layers, so every stage's
    // cache stays what one process keeps.
    if (m_deviceCaptures) zeroUnreachedCaptures(*tr, p, nRun);  // as host arrays read
    if (annotate) annotate(*tr);
    return tr;
  }
  if (capture.enabled && To > T) {  // recycled tensors kept the old rows past T for column sums
    // (a stage holds only its own layers: the others stay empty)
    auto shrink = [](TraceTensor<float>& t, size_t count) {
      if (!t.empty()) t.resize(count);
    };
    shrink(tr->embd, size_t(T) * d);
    for (LayerTrace& L : tr->layers) {
      shrink(L.resid, size_t(T) * d);
      shrink(L.k, size_t(T) * kvd);
    }
  }
  if (annotate) annotate(*tr);

  m_cacheIds = ids;
  m_cachePos = positions;
  if (publish) {
    m_trace = tr;
    m_traceRows = T;
  }
  return tr;
}

}  // namespace ll::rt
