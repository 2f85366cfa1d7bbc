// Engine: the blocks of one pass (embedding, attention, FFN / MoE, final norm and LM head) with
// capture and interventions.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/engine/attention_masks.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/engine_internal.h"
#include "runtime/engine/routing.h"
#include "runtime/engine/trace_recompute.h"

namespace ll::rt {

void Engine::norm(const float* x, const kern::Weight* w, const kern::Weight* b, float* y, int n) {
  normRows(m_backend, m_model.spec, *m_weights, w, b, x, y, n);
}

namespace {
// Whether the interventions drop this sublayer's update of layer l (§15).
bool skipped(const Interventions& iv, int l, SkipPart part) {
  return std::any_of(iv.skips.begin(), iv.skips.end(), [&](const LayerSkip& k) {
    return k.layer == l && (k.part == SkipPart::Layer || k.part == part);
  });
}
}  // namespace

void Engine::applyPatches(const Pass& ps, PatchSite site, int l, float* x, int width) {
  const int hd = m_model.spec.headDim;
  for (const Patch& pt : ps.iv->patches) {
    if (pt.site != site || (site != PatchSite::Embedding && pt.layer != l)) continue;
    if (pt.index < ps.p) continue;  // a reused row: the cached pass applied the same patch
    const size_t at =
        size_t(pt.index - ps.p) * width + (site == PatchSite::Head ? size_t(pt.head) * hd : 0);
    const size_t count = pt.value.size();
    if (pt.add) {
      float* v = m_scratch->f32("patchv", count);
      m_backend.upload(v, pt.value.data(), count * 4);
      m_backend.add(x + at, v, x + at, count);
    } else {
      m_backend.upload(x + at, pt.value.data(), count * 4);
    }
  }
}

std::function<void*(const std::string&, size_t)> Engine::scratchFn() {
  Scratch* sc = m_scratch.get();
  return [sc](const std::string& name, size_t bytes) { return sc->get(name, bytes); };
}

void Engine::preparePass(Pass& ps) {
  const ModelSpec& s = m_model.spec;
  Scratch& sc = *m_scratch;
  const int n = ps.n, d = s.nEmbd, qd = s.nHead * s.headDim;
  int ffMax = std::max({s.nFf, s.nFfExpert, s.nFfShexp, 1});
  for (int l = m_first; l < m_last; ++l) {  // the layers this engine runs (all bound)
    const LayerWeights& L = m_weights->layer(l);
    if (L.up) ffMax = std::max<int>(ffMax, L.up->rows);
    for (const auto& e : L.experts) ffMax = std::max<int>(ffMax, e.up->rows);
    if (L.shared.up) ffMax = std::max<int>(ffMax, L.shared.up->rows);
  }
  ps.ffMax = ffMax;
  ps.x = sc.f32("x", size_t(n) * d);
  ps.h = sc.f32("h", size_t(n) * d);
  ps.q = sc.f32("q", size_t(n) * qd);
  ps.pos = sc.i32("pos", n);
  m_backend.upload(ps.pos, ps.positions->data() + ps.p, size_t(n) * 4);
  if (!ps.iv->steering.empty()) {
    ps.steer = sc.f32("steer", ps.iv->steering.size() * d);
    for (size_t i = 0; i < ps.iv->steering.size(); ++i)
      m_backend.upload(ps.steer + i * d, ps.iv->steering[i].vector.data(), size_t(d) * 4);
  }

  if (ps.first >= ps.nRun) return;  // a stage an early exit leaves out: nothing runs
  if (ps.first > 0) {  // a later pipeline stage starts from the previous stage's residual
    ps.input->recvInto(ps.x, size_t(n) * d);
    if (ps.cap.enabled) {
      oldColSums(ps.first, ps);  // before the capture overwrites the old input rows (in place)
      captureRows(ps.tr->layers[ps.first - 1].resid, size_t(ps.p) * d, ps.x, size_t(n) * d);
    }
    return;
  }
  // Embeddings
  m_backend.getRows(m_weights->embeddings(), ps.ids->data() + ps.p, n, ps.x);
  applyPatches(ps, PatchSite::Embedding, 0, ps.x, d);
  if (s.embdScale > 0.0f) {  // Gemma: x0 = embedding * sqrt(n_embd)
    float* k = sc.f32("embdscale", n);
    m_backend.fill(k, s.embdScale, size_t(n));
    m_backend.scaleRows(ps.x, k, n, d);
  }
  if (m_weights->posEmbd) {
    m_backend.getRows(*m_weights->posEmbd, ps.positions->data() + ps.p, n, ps.h);
    m_backend.add(ps.x, ps.h, ps.x, size_t(n) * d);
  }
  if (ps.cap.enabled) {
    oldColSums(0, ps);  // before the capture overwrites the old pass's input rows (in place)
    captureRows(ps.tr->embd, size_t(ps.p) * d, ps.x, size_t(n) * d);
  }
}

void Engine::attentionBlock(int l, Pass& ps) {
  const ModelSpec& s = m_model.spec;
  const LayerWeights& L = m_weights->layer(l);
  Scratch& sc = *m_scratch;
  const int n = ps.n, p = ps.p, T = ps.T, d = s.nEmbd, H = s.nHead;
  const int qd = s.nHead * s.headDim, kvd = s.nHeadKv * s.headDim;
  float* kc = m_k[l].f32() + size_t(p) * kvd;
  // When qd == d (every llama-family shape) the attention output goes to h, free once Q/K/V are
  // projected, and the output projection to q, free once attention ran: no [n, qd] buffer more.
  const bool reuse = qd == d;
  float* att = reuse ? ps.h : sc.f32("att", size_t(n) * qd);
  float* proj = reuse ? ps.q : ps.h;
  float* vc = m_v[l].f32() + size_t(p) * kvd;

  norm(ps.x, L.attnNorm, L.attnNormB, ps.h, n);
  projectQueries(m_backend, s, *m_weights, l, ps.h, ps.pos, n, ps.q,
                 L.qNorm ? sc.f32("qraw", size_t(n) * qd) : nullptr);
  float* kOut = L.kNorm ? sc.f32("kraw", size_t(n) * kvd) : kc;
  m_backend.matmul(*L.wk, ps.h, kOut, n);
  m_backend.matmul(*L.wv, ps.h, vc, n);
  if (L.bk) m_backend.addBias(kOut, m_weights->vec(L.bk), n, kvd);
  if (L.bv) m_backend.addBias(vc, m_weights->vec(L.bv), n, kvd);
  if (L.kNorm) qkNormRows(m_backend, s, m_weights->vec(L.kNorm), kOut, kc, n, s.nHeadKv);
  if (s.hasRope && !s.learnedPos)
    m_backend.rope(kc, ps.pos, n, s.nHeadKv, s.headDim, layerRope(s, l));

  LayerTrace* lt = ps.cap.enabled ? &ps.tr->layers[l] : nullptr;
  const kern::AttnArgs a = layerAttnArgs(*ps.tr, l, n, T, ps.q, m_k[l].f32(), m_v[l].f32(), att,
                                         &m_backend, scratchFn());
  if (lt) {
    captureQueryTail(l, ps);
    captureRows(lt->k, size_t(p) * kvd, kc, size_t(n) * kvd);  // after oldColSums read the old K
  }
  // Knockouts and head eviction: one backend call per mask segment (usually one).
  MaskedAttnStats st;
  maskedAttention(m_backend, a, *ps.iv, l, scratchFn(), lt ? &st : nullptr);
  if (lt) {
    lt->lastRow = st.lastRow;
    for (int h = 0; h < H; ++h) {
      std::memcpy(lt->entropy.data() + size_t(h) * T + p, st.entropy.data() + size_t(h) * n,
                  size_t(n) * 4);
      for (int j = 0; j < T; ++j)
        lt->colSum[size_t(h) * T + j] =
            ps.oldColSum[size_t(h) * T + j] + st.colSum[size_t(h) * T + j];
    }
  }
  applyPatches(ps, PatchSite::Head, l, att, qd);
  const bool components = lt && !lt->headOut.empty();
  if (components) captureRows(lt->headOut, size_t(p) * qd, att, size_t(n) * qd);
  m_backend.matmul(*L.wo, att, proj, n);
  if (L.bo) m_backend.addBias(proj, m_weights->vec(L.bo), n, d);
  if (L.postAttnNorm) {  // Gemma: the branch output is normed before it joins the residual
    float* normed = sc.f32("postnorm", size_t(n) * d);
    m_backend.rmsNorm(proj, m_weights->vec(L.postAttnNorm), normed, n, d, s.normEps);
    proj = normed;
  }
  applyPatches(ps, PatchSite::Attention, l, proj, d);
  if (components) captureRows(lt->attnOut, size_t(p) * d, proj, size_t(n) * d);
  if (!skipped(*ps.iv, l, SkipPart::Attention)) m_backend.add(ps.x, proj, ps.x, size_t(n) * d);
  if (lt) captureRows(lt->residMid, size_t(p) * d, ps.x, size_t(n) * d);
}

// Column sums over query rows [0, p) of the new pass equal the previous pass's sums minus what its
// rows [p, To) contributed; those contributions are recomputed from its queries (its stored tail,
// earlier rows projected again from its layer input) and keys, with its own knockouts and
// eviction, so the cost is proportional to the rows that changed. Called before this pass
// overwrites layer l's input rows, which in place are the old pass's.
void Engine::oldColSums(int l, Pass& ps) {
  const ModelSpec& s = m_model.spec;
  const int H = s.nHead, T = ps.T, p = ps.p;
  std::vector<float>& colSum = ps.oldColSum;
  colSum.assign(size_t(H) * T, 0.0f);
  const Trace* old = ps.old;
  if (!old || p == 0 || l >= static_cast<int>(old->layers.size())) return;
  const int To = old->nTokens;
  const LayerTrace& O = old->layers[l];
  // In place, the old column sums and stored queries may have moved into the new trace.
  const LayerTrace& moved = ps.inPlace ? ps.tr->layers[l] : O;
  const std::vector<float>& oldSums = O.colSum.empty() ? moved.colSum : O.colSum;
  const TraceTensor<float>& oldTail = O.qTail.empty() ? moved.qTail : O.qTail;
  for (int h = 0; h < H; ++h)
    std::memcpy(colSum.data() + size_t(h) * T, oldSums.data() + size_t(h) * To, size_t(p) * 4);
  if (p >= To) return;
  Scratch& sc = *m_scratch;
  const int qd = s.nHead * s.headDim, kvd = s.nHeadKv * s.headDim, nq = To - p;
  // Old queries of rows [p, To): recomputed before its stored tail, copied from the tail.
  float* oq = sc.f32("oldq", size_t(nq) * qd);
  const int split = std::clamp(old->qFrom, p, To);
  if (split > p) {
    const Trace& in = ps.inPlace ? *ps.tr : *old;  // in place, the old input rows are in tr's
    recomputeQueries(l, l == 0 ? in.embd : in.layers[l - 1].resid, old->positions, p, split, oq);
  }
  if (To > split)
    copyRows(oq + size_t(split - p) * qd, oldTail, size_t(split - old->qFrom) * qd,
             size_t(To - split) * qd);
  // In place, the old K rows are still in the new trace's K (this layer has not written them yet).
  // Tensors the backend can address are used where they are; others are uploaded.
  const TraceTensor<float>& oldK = ps.inPlace ? ps.tr->layers[l].k : O.k;
  const float* kSrc = oldK.deviceDataOn(m_backend);
  if (!kSrc && m_backend.hostMemory()) kSrc = oldK.data();
  if (!kSrc) {
    float* ok = sc.f32("oldk", size_t(To) * kvd);
    m_backend.upload(ok, oldK.data(), size_t(To) * kvd * 4);
    kSrc = ok;
  }
  // Values do not change probabilities; the output is discarded.
  const kern::AttnArgs a = layerAttnArgs(
      *old, l, nq, To, oq, kSrc, kSrc, sc.f32("oldout", size_t(nq) * qd), &m_backend, scratchFn());
  MaskedAttnStats st;
  maskedAttention(m_backend, a, old->request.interventions, l, scratchFn(), &st);
  const std::vector<float>& sub = st.colSum;
  for (int h = 0; h < H; ++h)
    for (int j = 0; j < p; ++j) colSum[size_t(h) * T + j] -= sub[size_t(h) * To + j];
}

// The new trace's stored queries, rows [qFrom, T): this pass's rows [p, T); rows before p from the
// previous trace's tail where it has them, else projected again from this trace's layer input
// (rows before p are the reused prefix, already in place).
void Engine::captureQueryTail(int l, Pass& ps) {
  const ModelSpec& s = m_model.spec;
  const int p = ps.p, T = ps.T, qd = s.nHead * s.headDim, qFrom = ps.tr->qFrom;
  TraceTensor<float>& tail = ps.tr->layers[l].qTail;
  const int a = std::max(qFrom, p);
  captureRows(tail, size_t(a - qFrom) * qd, ps.q + size_t(a - p) * qd, size_t(T - a) * qd);
  if (qFrom >= p) return;
  const Trace* old = ps.old;
  const int oldFrom = old ? std::clamp(old->qFrom, qFrom, p) : p;
  if (oldFrom > qFrom) {
    float* rq = m_scratch->f32("tailq", size_t(oldFrom - qFrom) * qd);
    recomputeQueries(l, l == 0 ? ps.tr->embd : ps.tr->layers[l - 1].resid, *ps.positions, qFrom,
                     oldFrom, rq);
    captureRows(tail, 0, rq, size_t(oldFrom - qFrom) * qd);
  }
  // Rows from the old tail; already in place when the new trace took that tail over.
  const TraceTensor<float>& src = old ? old->layers[l].qTail : tail;
  if (p > oldFrom && &src != &tail && !src.empty())
    copyCaptureRows(tail, size_t(oldFrom - qFrom) * qd, src, size_t(oldFrom - old->qFrom) * qd,
                    size_t(p - oldFrom) * qd);
}

// Queries of layer l for rows [r0, r1) of the layer input `in` at positions[r0, r1) into dst
// (backend memory, [r1 - r0, qd]).
void Engine::recomputeQueries(int l, const TraceTensor<float>& in,
                              const std::vector<int32_t>& positions, int r0, int r1, float* dst) {
  const ModelSpec& s = m_model.spec;
  Scratch& sc = *m_scratch;
  const int n = r1 - r0, d = s.nEmbd, qd = s.nHead * s.headDim;
  if (n <= 0) return;
  if (in.size() < size_t(r1) * d || positions.size() < size_t(r1))
    throw std::logic_error("engine: a trace's layer input is shorter than its queries");
  float* x = sc.f32("rqx", size_t(n) * d);
  copyRows(x, in, size_t(r0) * d, size_t(n) * d);
  int32_t* pos = sc.i32("rqpos", n);
  m_backend.upload(pos, positions.data() + r0, size_t(n) * 4);
  queriesFromInput(m_backend, s, *m_weights, l, x, sc.f32("rqh", size_t(n) * d), pos, n, dst,
                   sc.f32("rqtmp", size_t(n) * qd));
}

void Engine::denseFfn(const ExpertWeights& w, const kern::Weight* upB, const kern::Weight* downB,
                      const float* h, float* out, int n, Pass& ps) {
  Scratch& sc = *m_scratch;
  const int ff = static_cast<int>(w.up->rows);
  const Activation act = m_model.spec.act;
  if (w.gate && !upB && !w.gateB && act == Activation::SwiGlu && m_backend.fusedSwiglu()) {
    // The up projection is consumed panel by panel: no [n, ff] buffer for it.
    float* g = sc.f32("ffg", size_t(n) * ps.ffMax);
    m_backend.matmul(*w.gate, h, g, n);
    m_backend.matmulSwiglu(*w.up, h, g, n);
    m_backend.matmul(*w.down, g, out, n);
    if (downB) m_backend.addBias(out, m_weights->vec(downB), n, static_cast<int>(w.down->rows));
    return;
  }
  float* u = sc.f32("ffu", size_t(n) * ps.ffMax);
  m_backend.matmul(*w.up, h, u, n);
  if (upB) m_backend.addBias(u, m_weights->vec(upB), n, ff);
  if (w.gate) {
    float* g = sc.f32("ffg", size_t(n) * ps.ffMax);
    m_backend.matmul(*w.gate, h, g, n);
    if (w.gateB) m_backend.addBias(g, m_weights->vec(w.gateB), n, ff);
    if (act == Activation::SwiGlu)
      m_backend.swiglu(g, u, u, size_t(n) * ff);
    else
      m_backend.glu(act == Activation::GeGlu ? kern::Glu::GeluTanh : kern::Glu::SiluOai, g, u, u,
                    size_t(n) * ff);
  } else {
    m_backend.gelu(u, size_t(n) * ff);
  }
  m_backend.matmul(*w.down, u, out, n);
  if (downB) m_backend.addBias(out, m_weights->vec(downB), n, static_cast<int>(w.down->rows));
}

void Engine::ffnBlock(int l, Pass& ps) {
  const ModelSpec& s = m_model.spec;
  const LayerWeights& L = m_weights->layer(l);
  const int n = ps.n, d = s.nEmbd;
  norm(ps.x, L.ffnNorm, L.ffnNormB, ps.h, n);
  // A dense FFN writes its output over its input h (read only before the down projection), so
  // prefill holds no separate [n, d] output buffer; MoE layers accumulate experts in ffo.
  float* out = ps.h;
  if (L.isMoe()) {
    moeFfn(l, ps);
    out = ps.ffo;
  } else {
    denseFfn({L.gate, L.up, L.down}, L.upB, L.downB, ps.h, ps.h, n, ps);
  }
  if (L.postFfnNorm) {  // Gemma
    float* normed = m_scratch->f32("postnorm", size_t(n) * d);
    m_backend.rmsNorm(out, m_weights->vec(L.postFfnNorm), normed, n, d, s.normEps);
    out = normed;
  }
  applyPatches(ps, PatchSite::Mlp, l, out, d);
  if (ps.cap.enabled && !ps.tr->layers[l].mlpOut.empty())
    captureRows(ps.tr->layers[l].mlpOut, size_t(ps.p) * d, out, size_t(n) * d);
  if (!skipped(*ps.iv, l, SkipPart::Mlp)) m_backend.add(ps.x, out, ps.x, size_t(n) * d);
  const auto& steering = ps.iv->steering;
  for (size_t i = 0; i < steering.size(); ++i) {
    if (steering[i].layer != l) continue;
    const int rowBegin = std::max(0, steering[i].fromPos - ps.p);
    if (rowBegin < n)
      m_backend.addRowVector(ps.x, ps.steer + i * d, steering[i].alpha, rowBegin, n, d);
  }
  applyPatches(ps, PatchSite::Resid, l, ps.x, d);
  if (ps.cap.enabled) {
    // In place, resid holds the old pass's input of layer l + 1 until this capture.
    if (l + 1 < ps.nRun) oldColSums(l + 1, ps);
    captureRows(ps.tr->layers[l].resid, size_t(ps.p) * d, ps.x, size_t(n) * d);
  }
}

void Engine::moeFfn(int l, Pass& ps) {
  const ModelSpec& s = m_model.spec;
  const LayerWeights& L = m_weights->layer(l);
  Scratch& sc = *m_scratch;
  const int n = ps.n, d = s.nEmbd, E = s.nExpert, k = s.nExpertUsed;
  if (k <= 0 || k > E)
    throw std::runtime_error("model uses " + std::to_string(k) + " of " + std::to_string(E) +
                             " experts");

  // Routing on the host.
  float* rl = sc.f32("router", size_t(n) * E);
  m_backend.matmul(*L.router, ps.h, rl, n);
  if (L.routerB) m_backend.addBias(rl, m_weights->vec(L.routerB), n, E);
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
  ps.ffo = sc.f32("ffo", size_t(n) * d);  // MoE layers only (dense FFNs write over h)
  m_backend.fill(ps.ffo, 0.0f, size_t(n) * d);
  for (int e = 0; e < E; ++e) {
    const int cnt = static_cast<int>(rows[e].size());
    if (cnt == 0) continue;
    m_backend.gatherRows(ps.h, idxDev + offs[e], cnt, d, xe);
    denseFfn(L.experts[e], L.experts[e].upB, L.experts[e].downB, xe, ye, cnt, ps);
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
  if (ps.cap.enabled && !ps.tr->finalNorm.empty())
    captureRows(ps.tr->finalNorm, size_t(ps.p) * d, ps.h, size_t(n) * d);
  // The LM head writes into the trace when it can address it (no [n, V] scratch, no copy).
  const int rows = ps.cap.allLogits ? n : 1;
  const float* in = ps.cap.allLogits ? ps.h : ps.h + size_t(n - 1) * d;
  const size_t at = ps.cap.allLogits ? size_t(ps.p) * V : 0;
  const float cap = s.finalSoftcap;
  if (float* direct = backendPtr(ps.tr->logits)) {
    m_backend.matmul(m_weights->head(), in, direct + at, rows);
    if (cap > 0.0f) m_backend.softcap(direct + at, cap, size_t(rows) * V);
    return;
  }
  const int chunk =
      std::max(1, std::min(rows, static_cast<int>((size_t(64) << 20) / (size_t(V) * 4))));
  float* lg = sc.f32("logits", size_t(chunk) * V);
  for (int r = 0; r < rows; r += chunk) {
    const int c = std::min(chunk, rows - r);
    m_backend.matmul(m_weights->head(), in + size_t(r) * d, lg, c);
    if (cap > 0.0f) m_backend.softcap(lg, cap, size_t(c) * V);
    captureRows(ps.tr->logits, at + size_t(r) * V, lg, size_t(c) * V);
  }
}

}  // namespace ll::rt
