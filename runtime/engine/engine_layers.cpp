// Engine: the blocks of one pass (embedding, attention, FFN / MoE, final norm and LM head) with
// capture and interventions.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/engine/attention_masks.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/engine_internal.h"
#include "runtime/engine/routing.h"

namespace ll::rt {

void Engine::norm(const float* x, const kern::Weight* w, const kern::Weight* b, float* y, int n) {
  const ModelSpec& s = m_model.spec;
  if (s.norm == NormKind::RmsNorm)
    m_backend.rmsNorm(x, m_weights->vec(w), y, n, s.nEmbd, s.normEps);
  else
    m_backend.layerNorm(x, m_weights->vec(w), m_weights->vec(b), y, n, s.nEmbd, s.normEps);
}

void Engine::preparePass(Pass& ps) {
  const ModelSpec& s = m_model.spec;
  Scratch& sc = *m_scratch;
  const int n = ps.n, d = s.nEmbd, qd = s.nHead * s.headDim;
  int ffMax = std::max({s.nFf, s.nFfExpert, s.nFfShexp, 1});
  for (const auto& L : m_weights->layers) {
    if (L.up) ffMax = std::max<int>(ffMax, L.up->rows);
    for (const auto& e : L.experts) ffMax = std::max<int>(ffMax, e.up->rows);
    if (L.shared.up) ffMax = std::max<int>(ffMax, L.shared.up->rows);
  }
  ps.ffMax = ffMax;
  ps.x = sc.f32("x", size_t(n) * d);
  ps.h = sc.f32("h", size_t(n) * d);
  ps.q = sc.f32("q", size_t(n) * qd);
  ps.att = sc.f32("att", size_t(n) * qd);
  ps.ffo = sc.f32("ffo", size_t(n) * d);
  ps.pos = sc.i32("pos", n);
  m_backend.upload(ps.pos, ps.positions->data() + ps.p, size_t(n) * 4);
  if (!ps.iv->steering.empty()) {
    ps.steer = sc.f32("steer", ps.iv->steering.size() * d);
    for (size_t i = 0; i < ps.iv->steering.size(); ++i)
      m_backend.upload(ps.steer + i * d, ps.iv->steering[i].vector.data(), size_t(d) * 4);
  }

  // Embeddings
  m_backend.getRows(*m_weights->tokenEmbd, ps.ids->data() + ps.p, n, ps.x);
  if (m_weights->posEmbd) {
    m_backend.getRows(*m_weights->posEmbd, ps.positions->data() + ps.p, n, ps.h);
    m_backend.add(ps.x, ps.h, ps.x, size_t(n) * d);
  }
  if (ps.cap.enabled) captureRows(ps.tr->embd, size_t(ps.p) * d, ps.x, size_t(n) * d);
}

void Engine::attentionBlock(int l, Pass& ps) {
  const ModelSpec& s = m_model.spec;
  const LayerWeights& L = m_weights->layers[l];
  Scratch& sc = *m_scratch;
  const int n = ps.n, p = ps.p, T = ps.T, d = s.nEmbd, H = s.nHead;
  const int qd = s.nHead * s.headDim, kvd = s.nHeadKv * s.headDim;
  float* kc = m_k[l].f32() + size_t(p) * kvd;
  float* vc = m_v[l].f32() + size_t(p) * kvd;

  norm(ps.x, L.attnNorm, L.attnNormB, ps.h, n);
  float* qOut = L.qNorm ? ps.att : ps.q;  // q-norm reads one buffer and writes another
  float* kOut = L.kNorm ? sc.f32("kraw", size_t(n) * kvd) : kc;
  m_backend.matmul(*L.wq, ps.h, qOut, n);
  m_backend.matmul(*L.wk, ps.h, kOut, n);
  m_backend.matmul(*L.wv, ps.h, vc, n);
  if (L.bq) m_backend.addBias(qOut, m_weights->vec(L.bq), n, qd);
  if (L.bk) m_backend.addBias(kOut, m_weights->vec(L.bk), n, kvd);
  if (L.bv) m_backend.addBias(vc, m_weights->vec(L.bv), n, kvd);
  if (L.qNorm) {
    m_backend.rmsNorm(qOut, m_weights->vec(L.qNorm), ps.q, n, qd, s.normEps);
    m_backend.rmsNorm(kOut, m_weights->vec(L.kNorm), kc, n, kvd, s.normEps);
  }
  if (s.hasRope && !s.learnedPos) {
    kern::RopeParams rp = s.rope;
    if (rp.nRot <= 0) rp.nRot = s.headDim;
    m_backend.rope(ps.q, ps.pos, n, s.nHead, s.headDim, rp);
    m_backend.rope(kc, ps.pos, n, s.nHeadKv, s.headDim, rp);
  }

  LayerTrace* lt = ps.cap.enabled ? &ps.tr->layers[l] : nullptr;
  kern::AttnArgs a;
  a.nQ = n;
  a.nKv = T;
  a.nHead = s.nHead;
  a.nHeadKv = s.nHeadKv;
  a.headDim = s.headDim;
  a.scale = ps.tr->attnScale;
  a.q = ps.q;
  a.k = m_k[l].f32();
  a.v = m_v[l].f32();
  a.out = ps.att;
  std::vector<float> colSum;
  if (lt) {
    subtractOldColSums(l, ps, colSum);  // first: in place, it reads the old Q/K rows past p
    captureRows(lt->q, size_t(p) * qd, ps.q, size_t(n) * qd);
    captureRows(lt->k, size_t(p) * kvd, kc, size_t(n) * kvd);
  }
  // Knockouts and head eviction: one backend call per mask segment (usually one).
  MaskedAttnStats st;
  maskedAttention(
      m_backend, a, *ps.iv, l,
      [&sc](const std::string& name, size_t bytes) { return sc.get(name, bytes); },
      lt ? &st : nullptr);
  if (lt) {
    lt->lastRow = st.lastRow;
    for (int h = 0; h < H; ++h) {
      std::memcpy(lt->entropy.data() + size_t(h) * T + p, st.entropy.data() + size_t(h) * n,
                  size_t(n) * 4);
      for (int j = 0; j < T; ++j)
        lt->colSum[size_t(h) * T + j] = colSum[size_t(h) * T + j] + st.colSum[size_t(h) * T + j];
    }
  }
  m_backend.matmul(*L.wo, ps.att, ps.h, n);
  if (L.bo) m_backend.addBias(ps.h, m_weights->vec(L.bo), n, d);
  m_backend.add(ps.x, ps.h, ps.x, size_t(n) * d);
  if (lt) captureRows(lt->residMid, size_t(p) * d, ps.x, size_t(n) * d);
}

// Column sums over query rows [0, p) of the new pass equal the previous pass's sums minus what its
// rows [p, To) contributed; those contributions are recomputed from the Q and K it captured (with
// its own knockouts and eviction), so the cost is proportional to the rows that changed.
void Engine::subtractOldColSums(int l, Pass& ps, std::vector<float>& colSum) {
  const ModelSpec& s = m_model.spec;
  const int H = s.nHead, T = ps.T, p = ps.p;
  colSum.assign(size_t(H) * T, 0.0f);
  const Trace* old = ps.old;
  if (!old || p == 0) return;
  const int To = old->nTokens;
  const LayerTrace& O = old->layers[l];
  for (int h = 0; h < H; ++h)
    std::memcpy(colSum.data() + size_t(h) * T, O.colSum.data() + size_t(h) * To, size_t(p) * 4);
  if (p >= To) return;
  Scratch& sc = *m_scratch;
  const int qd = s.nHead * s.headDim, kvd = s.nHeadKv * s.headDim, nq = To - p;
  kern::AttnArgs a;
  a.nQ = nq;
  a.nKv = To;
  a.nHead = s.nHead;
  a.nHeadKv = s.nHeadKv;
  a.headDim = s.headDim;
  a.scale = old->attnScale;
  // In place, the old rows are still in the new trace's Q/K (this layer has not written them yet).
  // Tensors the backend can address are used where they are; others are uploaded.
  const TraceTensor<float>& oldQ = ps.inPlace ? ps.tr->layers[l].q : O.q;
  const TraceTensor<float>& oldK = ps.inPlace ? ps.tr->layers[l].k : O.k;
  const float* qSrc = oldQ.deviceDataOn(m_backend);
  const float* kSrc = oldK.deviceDataOn(m_backend);
  if (!qSrc && m_backend.hostMemory()) qSrc = oldQ.data();
  if (!kSrc && m_backend.hostMemory()) kSrc = oldK.data();
  if (qSrc) {
    a.q = qSrc + size_t(p) * qd;
  } else {
    float* oq = sc.f32("oldq", size_t(nq) * qd);
    m_backend.upload(oq, oldQ.data() + size_t(p) * qd, size_t(nq) * qd * 4);
    a.q = oq;
  }
  if (!kSrc) {
    float* ok = sc.f32("oldk", size_t(To) * kvd);
    m_backend.upload(ok, oldK.data(), size_t(To) * kvd * 4);
    kSrc = ok;
  }
  a.k = kSrc;
  a.v = kSrc;  // values do not change probabilities; the output is discarded
  a.out = sc.f32("oldout", size_t(nq) * qd);
  MaskedAttnStats st;
  maskedAttention(
      m_backend, a, old->request.interventions, l,
      [&sc](const std::string& name, size_t bytes) { return sc.get(name, bytes); }, &st);
  const std::vector<float>& sub = st.colSum;
  for (int h = 0; h < H; ++h)
    for (int j = 0; j < p; ++j) colSum[size_t(h) * T + j] -= sub[size_t(h) * To + j];
}

void Engine::denseFfn(const ExpertWeights& w, const kern::Weight* upB, const kern::Weight* downB,
                      const float* h, float* out, int n, Pass& ps) {
  Scratch& sc = *m_scratch;
  const int ff = static_cast<int>(w.up->rows);
  float* u = sc.f32("ffu", size_t(n) * ps.ffMax);
  m_backend.matmul(*w.up, h, u, n);
  if (upB) m_backend.addBias(u, m_weights->vec(upB), n, ff);
  if (w.gate) {
    float* g = sc.f32("ffg", size_t(n) * ps.ffMax);
    m_backend.matmul(*w.gate, h, g, n);
    m_backend.swiglu(g, u, u, size_t(n) * ff);
  } else {
    m_backend.gelu(u, size_t(n) * ff);
  }
  m_backend.matmul(*w.down, u, out, n);
  if (downB) m_backend.addBias(out, m_weights->vec(downB), n, static_cast<int>(w.down->rows));
}

void Engine::ffnBlock(int l, Pass& ps) {
  const ModelSpec& s = m_model.spec;
  const LayerWeights& L = m_weights->layers[l];
  const int n = ps.n, d = s.nEmbd;
  norm(ps.x, L.ffnNorm, L.ffnNormB, ps.h, n);
  if (L.isMoe())
    moeFfn(l, ps);
  else
    denseFfn({L.gate, L.up, L.down}, L.upB, L.downB, ps.h, ps.ffo, n, ps);
  m_backend.add(ps.x, ps.ffo, ps.x, size_t(n) * d);
  const auto& steering = ps.iv->steering;
  for (size_t i = 0; i < steering.size(); ++i) {
    if (steering[i].layer != l) continue;
    const int rowBegin = std::max(0, steering[i].fromPos - ps.p);
    if (rowBegin < n)
      m_backend.addRowVector(ps.x, ps.steer + i * d, steering[i].alpha, rowBegin, n, d);
  }
  if (ps.cap.enabled) captureRows(ps.tr->layers[l].resid, size_t(ps.p) * d, ps.x, size_t(n) * d);
}

void Engine::moeFfn(int l, Pass& ps) {
  const ModelSpec& s = m_model.spec;
  const LayerWeights& L = m_weights->layers[l];
  Scratch& sc = *m_scratch;
  const int n = ps.n, d = s.nEmbd, E = s.nExpert, k = s.nExpertUsed;
  if (k <= 0 || k > E)
    throw std::runtime_error("model uses " + std::to_string(k) + " of " + std::to_string(E) +
                             " experts");

  // Routing on the host.
  float* rl = sc.f32("router", size_t(n) * E);
  m_backend.matmul(*L.router, ps.h, rl, n);
  std::vector<float> z(size_t(n) * E);
  m_backend.download(z.data(), rl, z.size() * 4);
  LayerTrace* lt = ps.cap.enabled ? &ps.tr->layers[l] : nullptr;
  if (lt) std::memcpy(lt->routerLogits.data() + size_t(ps.p) * E, z.data(), z.size() * 4);
  if (!ps.iv->router.empty())
    for (int t = 0; t < n; ++t) applyRouterEdits(z.data() + size_t(t) * E, E, l, ps.iv->router);
  RoutingResult r = route(z.data(), n, E, k, s.expertWeightsNorm);
  if (lt) {
    std::memcpy(lt->routerProbs.data() + size_t(ps.p) * E, r.probs.data(), r.probs.size() * 4);
    std::memcpy(lt->experts.data() + size_t(ps.p) * k, r.experts.data(), r.experts.size() * 4);
    std::memcpy(lt->expertWeights.data() + size_t(ps.p) * k, r.weights.data(),
                r.weights.size() * 4);
  }

  // Group rows by expert; one upload of all index/weight lists.
  std::vector<std::vector<int32_t>> rows(E);
  std::vector<std::vector<float>> wts(E);
  for (int t = 0; t < n; ++t)
    for (int j = 0; j < k; ++j) {
      const int e = r.experts[size_t(t) * k + j];
      rows[e].push_back(t);
      wts[e].push_back(r.weights[size_t(t) * k + j]);
    }
  std::vector<int32_t> allIdx;
  std::vector<float> allW;
  std::vector<size_t> offs(E + 1, 0);
  for (int e = 0; e < E; ++e) {
    offs[e] = allIdx.size();
    allIdx.insert(allIdx.end(), rows[e].begin(), rows[e].end());
    allW.insert(allW.end(), wts[e].begin(), wts[e].end());
  }
  int32_t* idxDev = sc.i32("moeidx", allIdx.size());
  float* wDev = sc.f32("moew", allW.size());
  m_backend.upload(idxDev, allIdx.data(), allIdx.size() * 4);
  m_backend.upload(wDev, allW.data(), allW.size() * 4);
  float* xe = sc.f32("moex", size_t(n) * d);
  float* ye = sc.f32("moey", size_t(n) * d);
  m_backend.fill(ps.ffo, 0.0f, size_t(n) * d);
  for (int e = 0; e < E; ++e) {
    const int cnt = static_cast<int>(rows[e].size());
    if (cnt == 0) continue;
    m_backend.gatherRows(ps.h, idxDev + offs[e], cnt, d, xe);
    denseFfn(L.experts[e], nullptr, nullptr, xe, ye, cnt, ps);
    m_backend.scatterAddRows(ye, idxDev + offs[e], wDev + offs[e], cnt, d, ps.ffo);
  }
  if (L.sharedGate) {
    float* so = sc.f32("shexp", size_t(n) * d);
    float* sg = sc.f32("shgate", n);
    denseFfn(L.shared, nullptr, nullptr, ps.h, so, n, ps);
    m_backend.matmul(*L.sharedGate, ps.h, sg, n);
    m_backend.sigmoid(sg, n);
    m_backend.scaleRows(so, sg, n, d);
    m_backend.add(ps.ffo, so, ps.ffo, size_t(n) * d);
  }
}

void Engine::finishPass(Pass& ps) {
  const ModelSpec& s = m_model.spec;
  Scratch& sc = *m_scratch;
  const int n = ps.n, d = s.nEmbd, V = s.nVocab;
  norm(ps.x, m_weights->outputNorm, m_weights->outputNormB, ps.h, n);
  if (ps.cap.enabled) captureRows(ps.tr->finalNorm, size_t(ps.p) * d, ps.h, size_t(n) * d);
  // The LM head writes into the trace when it can address it (no [n, V] scratch, no copy).
  const int rows = ps.cap.allLogits ? n : 1;
  const float* in = ps.cap.allLogits ? ps.h : ps.h + size_t(n - 1) * d;
  const size_t at = ps.cap.allLogits ? size_t(ps.p) * V : 0;
  if (float* direct = backendPtr(ps.tr->logits)) {
    m_backend.matmul(*m_weights->output, in, direct + at, rows);
    return;
  }
  const int chunk =
      std::max(1, std::min(rows, static_cast<int>((size_t(64) << 20) / (size_t(V) * 4))));
  float* lg = sc.f32("logits", size_t(chunk) * V);
  for (int r = 0; r < rows; r += chunk) {
    const int c = std::min(chunk, rows - r);
    m_backend.matmul(*m_weights->output, in + size_t(r) * d, lg, c);
    captureRows(ps.tr->logits, at + size_t(r) * V, lg, size_t(c) * V);
  }
}

}  // namespace ll::rt
