// Engine capture storage: a pass's trace arrays (allocated where the backend computes, taken
// over from the previous trace or from the capture pool), prefix copies and row writes.
#include <algorithm>
#include <cstring>

#include "runtime/engine/engine.h"
#include "runtime/engine/engine_internal.h"

namespace ll::rt {

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

void Engine::allocCapture(TraceTensor<float>& t, size_t count, bool overwritten) {
  if (m_deviceCaptures)
    t.assignDevice(m_backend, m_backendOwner, count);
  else
    t.adoptHost(m_capturePool->take(count, !overwritten));
}

void Engine::copyCaptureRows(TraceTensor<float>& dst, size_t dstOffset,
                             const TraceTensor<float>& src, size_t srcOffset, size_t count) {
  if (!count) return;
  const size_t bytes = count * sizeof(float);
  const float* dev = src.deviceDataOn(m_backend);
  if (dst.onDevice()) {
    if (dev)
      m_backend.copy(dst.deviceData() + dstOffset, dev + srcOffset, bytes);
    else
      m_backend.upload(dst.deviceData() + dstOffset, src.data() + srcOffset, bytes);
  } else if (dev && !src.hostReady()) {
    m_backend.download(dst.hostData() + dstOffset, dev + srcOffset, bytes);
  } else if (m_backend.hostMemory()) {  // host arrays are the backend's memory: its copy
    m_backend.copy(dst.hostData() + dstOffset, src.data() + srcOffset, bytes);
  } else {
    std::memcpy(dst.hostData() + dstOffset, src.data() + srcOffset, bytes);
  }
}

void Engine::copyRows(float* dst, const TraceTensor<float>& src, size_t srcOffset, size_t count) {
  if (!count) return;
  if (const float* dev = src.deviceDataOn(m_backend))
    m_backend.copy(dst, dev + srcOffset, count * sizeof(float));
  else
    m_backend.upload(dst, src.data() + srcOffset, count * sizeof(float));
}

void Engine::captureRows(TraceTensor<float>& t, size_t offset, const float* src, size_t count) {
  if (t.onDevice() || m_backend.hostMemory())  // host arrays are a host backend's memory
    m_backend.copy(backendPtr(t) + offset, src, count * sizeof(float));
  else
    m_backend.download(t.hostData() + offset, src, count * sizeof(float));
}

float* Engine::backendPtr(TraceTensor<float>& t) {
  if (t.onDevice()) return t.deviceData();
  return m_backend.hostMemory() ? t.hostData() : nullptr;
}

// A layer's [H, T] statistics and MoE routing rows: the statistics in place when T is unchanged
// (head rows keep their layout; oldColSums reads the column sums before the layer overwrites
// them: the layer is recycled, O its old self), else new with the reused prefix copied from O.
void Engine::setupLayerStats(int l, LayerTrace& L, LayerTrace* O, bool inPlace, int T, int To,
                             int p) {
  const ModelSpec& s = m_model.spec;
  const int H = s.nHead;
  if (inPlace) {
    L.entropy = std::move(O->entropy);
    L.lastRow = std::move(O->lastRow);
    L.colSum = std::move(O->colSum);
  } else {
    L.entropy.assign(size_t(H) * T, 0.0f);
    L.lastRow.assign(size_t(H) * T, 0.0f);
    L.colSum.assign(size_t(H) * T, 0.0f);
  }
  if (m_weights->layer(l).isMoe()) {
    L.routerLogits.assign(size_t(T) * s.nExpert, 0.0f);
    L.routerProbs.assign(size_t(T) * s.nExpert, 0.0f);
    L.experts.assign(size_t(T) * s.nExpertUsed, 0);
    L.expertWeights.assign(size_t(T) * s.nExpertUsed, 0.0f);
  }
  if (O) {
    if (!inPlace) copyHeadPrefix(L.entropy, T, O->entropy, To, H, p);
    copyPrefix(L.routerLogits, O->routerLogits, size_t(p) * s.nExpert);
    copyPrefix(L.routerProbs, O->routerProbs, size_t(p) * s.nExpert);
    copyPrefix(L.experts, O->experts, size_t(p) * s.nExpertUsed);
    copyPrefix(L.expertWeights, O->expertWeights, size_t(p) * s.nExpertUsed);
  }
}

// The new trace's per-row captures and statistics: taken over from `recycled` (the previous trace,
// when only the cache held it) or allocated, with the reused prefix's rows copied from `old`.
void Engine::setupCaptures(Trace& tr, Trace* recycled, const Trace* old, int p, bool early) {
  const ModelSpec& s = m_model.spec;
  const CaptureOptions& capture = tr.request.capture;
  const int T = tr.nTokens, To = old ? old->nTokens : 0;
  const int d = s.nEmbd, V = s.nVocab;
  const int qd = s.nHead * s.headDim, kvd = s.nHeadKv * s.headDim;
  const bool lastStage = m_last == s.nLayer;
  // A row-major [rows, width] capture: taken over from the recycled trace (prefix rows in place;
  // `keepRows` >= T keeps old rows past T that this pass still reads), or allocated and its
  // prefix copied from the previous trace. Either way a whole pass writes every row past the
  // prefix (the recycled trace's stale rows rely on it too); an early exit leaves its unreached
  // layers as zeros.
  auto setup = [&](TraceTensor<float>& dst, TraceTensor<float>* from, size_t width, int rows,
                   size_t keepRows) {
    if (recycled && from && !from->empty()) {
      dst = std::move(*from);
      dst.resize(std::max<size_t>(rows, keepRows) * width);
      return;
    }
    allocCapture(dst, size_t(rows) * width, !early);
    if (from) copyCapture(dst, *from, size_t(p) * width);
  };
  Trace* src = recycled ? recycled : const_cast<Trace*>(old);  // only moved from if recycled
  if (lastStage)
    setup(tr.logits, capture.allLogits && old ? &src->logits : nullptr, V,
          capture.allLogits ? T : 1, 0);
  // Layer inputs (embd, resid) keep the old rows past T too: the old queries of those rows may
  // have to be projected again for the column sums.
  if (capture.enabled) {
    if (m_first == 0) setup(tr.embd, old ? &src->embd : nullptr, d, T, To);
    tr.layers.resize(s.nLayer);
    if (m_first > 0)  // a later stage's input, kept as the previous layer's resid
      setup(tr.layers[m_first - 1].resid, old ? &src->layers[m_first - 1].resid : nullptr, d, T,
            To);
    if (!tr.recompute && lastStage)  // CPU traces recompute the final norm on request
      setup(tr.finalNorm, old ? &src->finalNorm : nullptr, d, T, 0);
    for (int l = m_first; l < m_last; ++l) {
      LayerTrace& L = tr.layers[l];
      LayerTrace* O = old ? &src->layers[l] : nullptr;
      setup(L.resid, O ? &O->resid : nullptr, d, T, To);
      setup(L.residMid, O ? &O->residMid : nullptr, d, T, 0);
      // Stored queries, filled per layer by captureQueryTail: in place when they cover the same
      // rows (the old rows are read before the layer overwrites them).
      if (recycled && O && T == To && src->qFrom == tr.qFrom &&
          O->qTail.size() == size_t(T - tr.qFrom) * qd) {
        L.qTail = std::move(O->qTail);
        L.qTail.resize(L.qTail.size());  // drops a device tensor's host copy, stale once written
      } else {
        allocCapture(L.qTail, size_t(T - tr.qFrom) * qd, !early);
      }
      setup(L.k, O ? &O->k : nullptr, kvd, T, To);
      if (capture.components) {
        setup(L.attnOut, O ? &O->attnOut : nullptr, d, T, 0);
        setup(L.mlpOut, O ? &O->mlpOut : nullptr, d, T, 0);
        setup(L.headOut, O ? &O->headOut : nullptr, qd, T, 0);
      }
      setupLayerStats(l, L, O, recycled && O && T == To, T, To, p);
    }
  }

  // The pool keeps what the next pass will need, about this trace's captures, and no more.
  if (!m_deviceCaptures) m_capturePool->endTakes(tr.bytes() + tr.bytes() / 4);
}

// After an early exit on backend captures (whose fresh buffers hold anything): zeros in what the
// pass did not reach, as host arrays read.
void Engine::zeroUnreachedCaptures(Trace& tr, int p, int nRun) {
  const ModelSpec& s = m_model.spec;
  const int d = s.nEmbd, V = s.nVocab;
  const int qd = s.nHead * s.headDim, kvd = s.nHeadKv * s.headDim;
  const CaptureOptions& capture = tr.request.capture;
  auto zero = [&](TraceTensor<float>& t, size_t from) {
    if (t.onDevice() && t.size() > from)
      m_backend.fill(t.deviceData() + from, 0.0f, t.size() - from);
  };
  zero(tr.logits, capture.allLogits ? size_t(p) * V : 0);
  zero(tr.finalNorm, size_t(p) * d);
  for (int l = nRun; l < static_cast<int>(tr.layers.size()); ++l) {
    LayerTrace& L = tr.layers[l];
    zero(L.resid, size_t(p) * d);
    zero(L.residMid, size_t(p) * d);
    zero(L.qTail, 0);
    zero(L.k, size_t(p) * kvd);
    zero(L.attnOut, size_t(p) * d);
    zero(L.mlpOut, size_t(p) * d);
    zero(L.headOut, size_t(p) * qd);
  }
}

}  // namespace ll::rt
