#include "runtime/engine/trace_recompute.h"

#include <stdexcept>
#include <vector>

namespace ll::rt {

void normRows(kern::Backend& b, const ModelSpec& s, const ModelWeights& w, const kern::Weight* g,
              const kern::Weight* bias, const float* x, float* y, int n) {
  if (s.norm == NormKind::RmsNorm)
    b.rmsNorm(x, w.vec(g), y, n, s.nEmbd, s.normEps);
  else
    b.layerNorm(x, w.vec(g), w.vec(bias), y, n, s.nEmbd, s.normEps);
}

void projectQueries(kern::Backend& b, const ModelSpec& s, const ModelWeights& w, int l,
                    const float* h, const int32_t* pos, int n, float* q, float* tmp) {
  const LayerWeights& L = w.layer(l);
  const int qd = s.nHead * s.headDim;
  float* raw = L.qNorm ? tmp : q;  // q-norm reads one buffer and writes another
  b.matmul(*L.wq, h, raw, n);
  if (L.bq) b.addBias(raw, w.vec(L.bq), n, qd);
  if (L.qNorm) qkNormRows(b, s, w.vec(L.qNorm), raw, q, n, s.nHead);
  if (s.hasRope && !s.learnedPos) b.rope(q, pos, n, s.nHead, s.headDim, layerRope(s, l));
}

void qkNormRows(kern::Backend& b, const ModelSpec& s, const float* weight, const float* x, float* y,
                int n, int nHeads) {
  if (s.qkNorm == QkNorm::PerHead)
    b.rmsNorm(x, weight, y, n * nHeads, s.headDim, s.normEps);
  else
    b.rmsNorm(x, weight, y, n, nHeads * s.headDim, s.normEps);
}

kern::RopeParams layerRope(const ModelSpec& s, int l) {
  kern::RopeParams rp = s.layerRope(l);
  if (rp.nRot <= 0) rp.nRot = s.headDim;
  return rp;
}

void queriesFromInput(kern::Backend& b, const ModelSpec& s, const ModelWeights& w, int l,
                      const float* x, float* h, const int32_t* pos, int n, float* q, float* tmp) {
  const LayerWeights& L = w.layer(l);
  normRows(b, s, w, L.attnNorm, L.attnNormB, x, h, n);
  projectQueries(b, s, w, l, h, pos, n, q, tmp);
}

SiblingRecompute::SiblingRecompute(std::shared_ptr<const Model> model, const ModelSpec& spec,
                                   std::shared_ptr<kern::Backend> weightsBackend,
                                   std::shared_ptr<ModelWeights> weights,
                                   std::unique_ptr<kern::Backend> sibling)
    : m_model(std::move(model)),
      m_spec(spec),
      m_weightsBackend(std::move(weightsBackend)),
      m_weights(std::move(weights)),
      m_backend(std::move(sibling)) {
  if (!m_backend) throw std::invalid_argument("SiblingRecompute: no backend");
}

void SiblingRecompute::finalNorm(const Trace& tr, int r0, int r1, float* out) const {
  const int n = r1 - r0, d = m_spec.nEmbd;
  if (n <= 0) return;
  if (tr.nEmbd != d || tr.layers.empty() || r0 < 0 || r1 > tr.nTokens ||
      tr.layers.back().resid.size() < size_t(r1) * d)
    throw std::invalid_argument("final norm recompute: the trace does not match the model");
  // Read (a lazy tensor: downloaded or fetched from its rank) before taking the lock, so a fetch
  // never waits for the pipeline's lock while holding this one.
  const float* src = tr.layers.back().resid.data() + size_t(r0) * d;
  std::lock_guard<std::mutex> lock(m_mutex);
  kern::Backend& b = *m_backend;
  kern::Buffer x(b, size_t(n) * d * 4), y(b, size_t(n) * d * 4);
  b.upload(x.get(), src, size_t(n) * d * 4);
  normRows(b, m_spec, *m_weights, m_weights->outputNorm, m_weights->outputNormB,
           static_cast<float*>(x.get()), static_cast<float*>(y.get()), n);
  b.download(out, y.get(), size_t(n) * d * 4);
  b.sync();
}

void SiblingRecompute::queries(const Trace& tr, int layer, int r0, int r1, float* out) const {
  const int n = r1 - r0, d = m_spec.nEmbd, qd = m_spec.nHead * m_spec.headDim;
  if (n <= 0) return;
  if (layer < 0 || layer >= m_weights->nLayer() || tr.nEmbd != d || tr.nHead * tr.headDim != qd ||
      r0 < 0 || r1 > tr.nTokens || static_cast<int>(tr.positions.size()) < r1)
    throw std::invalid_argument("query recompute: the trace does not match the model");
  const TraceTensor<float>& in = layer == 0 ? tr.embd : tr.layers[layer - 1].resid;
  if (in.size() < size_t(r1) * d)
    throw std::invalid_argument("query recompute: the trace holds no input for layer " +
                                std::to_string(layer));
  const float* src = in.data() + size_t(r0) * d;  // before the lock, as in finalNorm
  std::lock_guard<std::mutex> lock(m_mutex);
  kern::Backend& b = *m_backend;
  kern::Buffer x(b, size_t(n) * d * 4), h(b, size_t(n) * d * 4), q(b, size_t(n) * qd * 4),
      tmp(b, size_t(n) * qd * 4), pos(b, size_t(n) * 4);
  b.upload(x.get(), src, size_t(n) * d * 4);
  b.upload(pos.get(), tr.positions.data() + r0, size_t(n) * 4);
  queriesFromInput(b, m_spec, *m_weights, layer, x.f32(), h.f32(), pos.i32(), n, q.f32(),
                   tmp.f32());
  b.download(out, q.get(), size_t(n) * qd * 4);
  b.sync();
}

}  // namespace ll::rt
