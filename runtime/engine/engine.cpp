// Engine: pass orchestration, KV cache and prefix reuse. The per-layer blocks are in
// engine_layers.cpp.
#include "runtime/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "runtime/engine/attention_masks.h"
#include "runtime/engine/engine_internal.h"

namespace ll::rt {

Engine::Engine(const Model& model, kern::Backend& backend)
    : m_model(model), m_backend(backend), m_scratch(std::make_unique<Scratch>(backend)) {
  m_weights = std::make_unique<ModelWeights>(model, backend);
  m_k.resize(model.spec.nLayer);
  m_v.resize(model.spec.nLayer);
}

Engine::~Engine() = default;

void Engine::resetCache() {
  m_cacheIds.clear();
  m_cachePos.clear();
  m_trace.reset();
  m_traceRows = 0;
}

void Engine::ensureCapacity(int rows) {
  if (rows <= m_capacity) return;
  const ModelSpec& s = m_model.spec;
  int cap = std::max({rows, 2 * m_capacity, 64});
  if (s.nCtx > 0) cap = std::min(cap, std::max(rows, s.nCtx));
  const size_t kvd = size_t(s.nHeadKv) * s.headDim;
  const size_t keep = m_cacheIds.size();
  for (int l = 0; l < s.nLayer; ++l) {
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
  const int64_t maxPos =
      m_weights->posEmbd ? m_weights->posEmbd->rows : (s.nCtx > 0 ? s.nCtx : INT32_MAX);
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
    if (e.layer < 0 || e.layer >= s.nLayer || !m_weights->layers[e.layer].isMoe())
      throw std::invalid_argument("router edit: layer " + std::to_string(e.layer) +
                                  " is not a MoE layer");
    if (e.expert < 0 || e.expert >= s.nExpert)
      throw std::invalid_argument("router edit: expert " + std::to_string(e.expert) +
                                  " is out of range (0.." + std::to_string(s.nExpert - 1) + ")");
    if (!std::isfinite(e.value)) throw std::invalid_argument("router edit value is not finite");
  }
  validateMasks(iv, T, s.nLayer, s.nHeadKv);
}

namespace {

template <class V>
void copyPrefix(V& dst, const V& src, size_t count) {
  if (count) std::memcpy(dst.data(), src.data(), count * sizeof(typename V::value_type));
}

// [H, T] arrays: copy the first p entries of every head row.
void copyHeadPrefix(std::vector<float>& dst, int T, const std::vector<float>& src, int To, int H,
                    int p) {
  for (int h = 0; h < H; ++h)
    std::memcpy(dst.data() + size_t(h) * T, src.data() + size_t(h) * To, size_t(p) * sizeof(float));
}

}  // namespace

std::shared_ptr<const Trace> Engine::run(const std::vector<int32_t>& ids,
                                         const std::vector<int32_t>& positions,
                                         const Interventions& iv, const CaptureOptions& capture,
                                         const EngineProgress& progress, bool publish,
                                         const std::function<void(Trace&)>& annotate) {
  validate(ids, positions, iv);
  const ModelSpec& s = m_model.spec;
  const int T = static_cast<int>(ids.size());
  ensureCapacity(T);

  // How much of the cache survives.
  int common = 0;
  const int limit = std::min<int>(T, cachedRows());
  while (common < limit && m_cacheIds[common] == ids[common] &&
         m_cachePos[common] == positions[common])
    ++common;
  int p = std::min(common, invalidationPoint(m_cacheIv, iv, T));
  const Trace* old = nullptr;
  if (capture.enabled || capture.allLogits) {
    const bool usable = m_trace && (!capture.enabled || m_trace->captured) &&
                        (!capture.allLogits || m_trace->allLogits);
    if (usable) {
      p = std::min(p, m_traceRows);
      old = m_trace.get();
    } else {
      p = 0;
    }
  }
  p = std::max(0, std::min(p, T - 1));  // the last row is always recomputed (its stats and logits)

  auto keepAlive = m_trace;  // `old` stays valid even if this pass throws after m_trace changes
  m_cacheIds.resize(p);
  m_cachePos.resize(p);
  m_traceRows = std::min(m_traceRows, p);
  m_cacheIv = iv;

  const int d = s.nEmbd, H = s.nHead, V = s.nVocab;
  const int qd = s.nHead * s.headDim, kvd = s.nHeadKv * s.headDim;
  auto tr = std::make_shared<Trace>();
  tr->nTokens = T;
  tr->nLayer = s.nLayer;
  tr->nEmbd = d;
  tr->nHead = H;
  tr->nHeadKv = s.nHeadKv;
  tr->headDim = s.headDim;
  tr->nVocab = V;
  tr->nExpert = s.nExpert;
  tr->nExpertUsed = s.nExpertUsed;
  tr->attnScale = 1.0f / std::sqrt(static_cast<float>(s.headDim));
  tr->ids = ids;
  tr->positions = positions;
  tr->captured = capture.enabled;
  tr->allLogits = capture.allLogits;
  tr->reusedRows = p;
  tr->request.interventions = iv;
  tr->request.capture = capture;
  tr->logits.assign(size_t(capture.allLogits ? T : 1) * V, 0.0f);
  if (capture.allLogits && old) copyPrefix(tr->logits, old->logits, size_t(p) * V);
  if (iv.knockout) {
    tr->blockQ.assign(T, 0);
    tr->blockK.assign(T, 0);
    for (int i : iv.knockout->from) tr->blockQ[i] = 1;
    for (int i : iv.knockout->to) tr->blockK[i] = 1;
    tr->knockBegin = std::max(0, iv.knockout->layerBegin);
    tr->knockEnd = std::min(s.nLayer, iv.knockout->layerEnd);
  }
  if (capture.enabled) {
    tr->embd.assign(size_t(T) * d, 0.0f);
    tr->finalNorm.assign(size_t(T) * d, 0.0f);
    if (old) {
      copyPrefix(tr->embd, old->embd, size_t(p) * d);
      copyPrefix(tr->finalNorm, old->finalNorm, size_t(p) * d);
    }
    tr->layers.resize(s.nLayer);
    for (int l = 0; l < s.nLayer; ++l) {
      LayerTrace& L = tr->layers[l];
      L.resid.assign(size_t(T) * d, 0.0f);
      L.residMid.assign(size_t(T) * d, 0.0f);
      L.q.assign(size_t(T) * qd, 0.0f);
      L.k.assign(size_t(T) * kvd, 0.0f);
      L.entropy.assign(size_t(H) * T, 0.0f);
      L.lastRow.assign(size_t(H) * T, 0.0f);
      L.colSum.assign(size_t(H) * T, 0.0f);
      if (m_weights->layers[l].isMoe()) {
        L.routerLogits.assign(size_t(T) * s.nExpert, 0.0f);
        L.routerProbs.assign(size_t(T) * s.nExpert, 0.0f);
        L.experts.assign(size_t(T) * s.nExpertUsed, 0);
        L.expertWeights.assign(size_t(T) * s.nExpertUsed, 0.0f);
      }
      if (old) {
        const LayerTrace& O = old->layers[l];
        copyPrefix(L.resid, O.resid, size_t(p) * d);
        copyPrefix(L.residMid, O.residMid, size_t(p) * d);
        copyPrefix(L.q, O.q, size_t(p) * qd);
        copyPrefix(L.k, O.k, size_t(p) * kvd);
        copyHeadPrefix(L.entropy, T, O.entropy, old->nTokens, H, p);
        copyPrefix(L.routerLogits, O.routerLogits, size_t(p) * s.nExpert);
        copyPrefix(L.routerProbs, O.routerProbs, size_t(p) * s.nExpert);
        copyPrefix(L.experts, O.experts, size_t(p) * s.nExpertUsed);
        copyPrefix(L.expertWeights, O.expertWeights, size_t(p) * s.nExpertUsed);
      }
    }
  }

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
  preparePass(ps);

  for (int l = 0; l < s.nLayer; ++l) {
    attentionBlock(l, ps);
    ffnBlock(l, ps);
    if (progress && !progress(l + 1, s.nLayer)) throw Cancelled();
  }
  finishPass(ps);
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
