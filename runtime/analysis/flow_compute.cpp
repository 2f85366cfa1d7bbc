// Builds the information-flow graph of a trace (§14) layer by layer: values recomputed from the
// stored layer input, their W_O projections per head (U_h = V_g W_O,h^T, [T, H, d]: the largest
// buffer, T * H * d floats), attention rows in blocks of destinations from the stored Q/K with
// the pass's own masks and the linear bound's products (flow_contrib.h), then each destination's
// parts on the fly on a thread pool. Backend matmuls do the O(T * d^2) and O(T^2 * d) products.
//
// Where the constant terms go: b_O (and a dense MLP's down bias inside the MLP part) is in the
// block output y but no part of its own, as in llm-transparency-tool; steering added at a layer's
// output is likewise in the MLP block's y only. A MoE MLP (routed and shared experts) is one part.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "kernels/cpu/thread_pool.h"
#include "runtime/analysis/flow_contrib.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/engine/attention_masks.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/trace_recompute.h"

namespace ll::rt::ana {

namespace {

// Attention rows of one block of destinations, all heads: at most this many floats.
constexpr size_t kMapBlockFloats = size_t(16) << 20;

void validate(Engine& e, const Trace& tr, const FlowRequest& req) {
  const ModelSpec& s = e.spec();
  if (!tr.captured || static_cast<int>(tr.layers.size()) != s.nLayer || tr.nEmbd != s.nEmbd ||
      tr.nHead != s.nHead || tr.nHeadKv != s.nHeadKv || tr.request.capture.lastLayer >= 0)
    throw std::invalid_argument(
        "flow routes need a full-capture trace of this model (no early exit)");
  if (!(req.threshold >= 0.0 && req.threshold < 1.0))
    throw std::invalid_argument("flow routes: threshold " + std::to_string(req.threshold) +
                                " is outside [0, 1)");
  if (req.position >= tr.nTokens || req.position < -tr.nTokens)
    throw std::invalid_argument("flow routes: position " + std::to_string(req.position) +
                                " is out of range (0.." + std::to_string(tr.nTokens - 1) + ")");
  for (int l = 0; l < e.weights().nLayer(); ++l)
    if (e.weights().layer(l).postAttnNorm)
      throw std::invalid_argument(
          "flow routes: this model normalises the attention output before it joins the residual "
          "stream (post-attention norm, Gemma), so the per-token parts do not add up to the "
          "block's update and their contributions are not defined");
}

bool attentionSkipped(const Interventions& iv, int l) {
  for (const LayerSkip& k : iv.skips)
    if (k.layer == l && (k.part == SkipPart::Layer || k.part == SkipPart::Attention)) return true;
  return false;
}

// Steering added to layer l's output at row t.
void addSteering(const Trace& tr, int l, int t, float* v, int d) {
  for (const Steering& st : tr.request.interventions.steering)
    if (st.layer == l && t >= st.fromPos && static_cast<int>(st.vector.size()) == d)
      for (int i = 0; i < d; ++i) v[i] += st.alpha * st.vector[size_t(i)];
}

// Buffers of one layer, kept from layer to layer (U is the largest: T * H * d floats).
struct LayerWork {
  std::vector<float> U;         // [T][H][d] U_h[j] = W_O,h v_h(j), a source's heads side by side
  std::vector<float> norms;     // [H][T] ||U_h[j]||_1
  std::vector<float> values;    // [Hkv][T][hd] the values of each KV group, contiguous
  std::vector<float> signRows;  // [T][qd] W_O^T sign(y_i): s_i . U_h[j] = signRows_h[i] . v_h(j)
  std::vector<float> maps, linear;  // one block of destinations: [H][nQ][i1] each
};

// Layer l's values per KV group, their per-head projections U and norms (work.values, U, norms),
// and W_O^T sign(y) per destination (work.signRows).
void projectValues(Engine& e, const Trace& tr, int l, kern::ThreadPool& pool, LayerWork& w) {
  const ModelSpec& s = e.spec();
  const LayerWeights& L = e.weights().layer(l);
  kern::Backend& be = e.backend();
  const int T = tr.nTokens, d = s.nEmbd, H = s.nHead, hd = s.headDim, G = s.nHeadKv, kvd = G * hd,
            qd = H * hd, group = H / G;
  const TraceTensor<float>& in = l == 0 ? tr.embd : tr.layers[size_t(l) - 1].resid;
  std::vector<float> vh(size_t(T) * kvd);
  {
    kern::Buffer x(be, size_t(T) * d * 4), h(be, size_t(T) * d * 4), v(be, size_t(T) * kvd * 4);
    be.upload(x.get(), in.data(), size_t(T) * d * 4);
    normRows(be, s, e.weights(), L.attnNorm, L.attnNormB, x.f32(), h.f32(), T);
    be.matmul(*L.wv, h.f32(), v.f32(), T);
    if (L.bv) be.addBias(v.f32(), e.weights().vec(L.bv), T, kvd);
    be.download(vh.data(), v.get(), vh.size() * 4);
    be.sync();
  }
  w.values.resize(size_t(T) * kvd);
  for (int g = 0; g < G; ++g)
    for (int t = 0; t < T; ++t)
      std::copy_n(vh.data() + size_t(t) * kvd + size_t(g) * hd, hd,
                  w.values.data() + (size_t(g) * T + t) * hd);
  // W_O dequantised to host rows [d, qd]; each head's columns become an f32 weight [d, hd].
  std::vector<float> wo(size_t(d) * qd);
  {
    std::vector<int32_t> ids(static_cast<size_t>(d));
    for (int i = 0; i < d; ++i) ids[size_t(i)] = i;
    kern::Buffer rows(be, wo.size() * 4);
    be.getRows(*L.wo, ids.data(), d, rows.f32());
    be.download(wo.data(), rows.get(), wo.size() * 4);
    be.sync();
  }
  auto f32Weight = [&](const char* name, const float* data, int rows, int cols) {
    kern::WeightDesc desc;
    desc.name = name;
    desc.type = kern::QType::F32;
    desc.rows = rows;
    desc.cols = cols;
    desc.data = data;
    desc.nbytes = size_t(rows) * cols * 4;
    return be.loadWeight(desc);
  };
  w.U.resize(size_t(H) * T * d);
  w.norms.resize(size_t(H) * T);
  kern::Buffer vg(be, size_t(T) * hd * 4), ub(be, size_t(T) * d * 4);
  std::vector<float> woh(size_t(d) * hd), uh(size_t(T) * d);
  for (int hh = 0; hh < H; ++hh) {
    if (hh % group == 0)
      be.upload(vg.get(), w.values.data() + size_t(hh / group) * T * hd, size_t(T) * hd * 4);
    for (int i = 0; i < d; ++i)
      std::copy_n(wo.data() + size_t(i) * qd + size_t(hh) * hd, hd, woh.data() + size_t(i) * hd);
    const auto wh = f32Weight("flow.attn_output.head", woh.data(), d, hd);
    be.matmul(*wh, vg.f32(), ub.f32(), T);
    be.download(uh.data(), ub.get(), uh.size() * 4);
    be.sync();
    pool.parallelFor(T, 16, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) {
        const float* row = uh.data() + size_t(t) * d;
        std::copy_n(row, d, w.U.data() + (size_t(t) * H + hh) * d);
        double n = 0;
        for (int i = 0; i < d; ++i) n += std::fabs(row[i]);
        w.norms[size_t(hh) * T + size_t(t)] = float(n);
      }
    });
  }
  // signRows = sign(y) W_O, y the stream after attention: the linear bound's directions.
  std::vector<float> woT(size_t(qd) * d), sg(size_t(T) * d);
  for (int i = 0; i < d; ++i)
    for (int c = 0; c < qd; ++c) woT[size_t(c) * d + i] = wo[size_t(i) * qd + c];
  const float* y = tr.layers[size_t(l)].residMid.data();
  for (size_t k = 0; k < sg.size(); ++k) sg[k] = float((y[k] > 0) - (y[k] < 0));
  const auto wt = f32Weight("flow.attn_output.T", woT.data(), qd, d);
  kern::Buffer sb(be, sg.size() * 4), rb(be, size_t(T) * qd * 4);
  be.upload(sb.get(), sg.data(), sg.size() * 4);
  be.matmul(*wt, sb.f32(), rb.f32(), T);
  w.signRows.resize(size_t(T) * qd);
  be.download(w.signRows.data(), rb.get(), w.signRows.size() * 4);
  be.sync();
}

// Destinations [i0, i1) of layer l, every head: attention rows into work.maps and the linear
// bound's s_i . U_h[j] = signRows_h[i] . v_h(j) into work.linear, both [H][i1 - i0][i1].
void blockRows(kern::Backend& be, const Trace& tr, int l, int i0, int i1, const float* kDev,
               LayerWork& w) {
  const int nQ = i1 - i0, H = tr.nHead, hd = tr.headDim, T = tr.nTokens,
            group = tr.nHead / tr.nHeadKv, qd = H * hd;
  const std::vector<float> q = tr.queries(l, i0, i1);
  kern::Buffer qb(be, q.size() * 4);
  be.upload(qb.get(), q.data(), q.size() * 4);
  std::map<std::string, kern::Buffer> scratch;
  auto get = [&](const std::string& name, size_t bytes) {
    kern::Buffer& x = scratch[name];
    if (x.bytes() < bytes) x = kern::Buffer(be, bytes);
    return x.get();
  };
  const kern::AttnArgs a = layerAttnArgs(tr, l, nQ, i1, qb.f32(), kDev, kDev, nullptr, &be, get);
  w.maps.resize(size_t(H) * nQ * i1);
  w.linear.resize(size_t(H) * nQ * i1);
  std::vector<float> rh(size_t(nQ) * hd);
  kern::Buffer rb(be, rh.size() * 4), lb(be, size_t(nQ) * i1 * 4);
  std::unique_ptr<kern::Weight> vw;
  for (int h = 0; h < H; ++h) {
    maskedAttentionMap(be, a, tr.request.interventions, l, h, get,
                       w.maps.data() + size_t(h) * nQ * i1);
    if (h % group == 0) {  // this group's values of sources [0, i1) as a weight [i1, hd]
      kern::WeightDesc desc;
      desc.name = "flow.values";
      desc.type = kern::QType::F32;
      desc.rows = i1;
      desc.cols = hd;
      desc.data = w.values.data() + size_t(h / group) * T * hd;
      desc.nbytes = size_t(i1) * hd * 4;
      vw = be.loadWeight(desc);
    }
    for (int i = 0; i < nQ; ++i)
      std::copy_n(w.signRows.data() + size_t(i0 + i) * qd + size_t(h) * hd, hd,
                  rh.data() + size_t(i) * hd);
    be.upload(rb.get(), rh.data(), rh.size() * 4);
    be.matmul(*vw, rb.f32(), lb.f32(), nQ);
    be.download(w.linear.data() + size_t(h) * nQ * i1, lb.get(), size_t(nQ) * i1 * 4);
    be.sync();
  }
}

void appendKept(FlowGraph& g, int l, FlowEdgeKind partKind, int dst,
                const std::vector<flow::KeptPart>& kept) {
  const bool attn = partKind == FlowEdgeKind::Attn;
  for (const flow::KeptPart& p : kept) {
    FlowEdge e;
    e.layer = l;
    e.dst = dst;
    if (p.first < 0) {
      e.kind = attn ? FlowEdgeKind::AttnResid : FlowEdgeKind::MlpResid;
      e.src = dst;
    } else {
      e.kind = partKind;
      e.src = attn ? p.first : dst;
    }
    e.weight = float(p.second);
    g.edges.push_back(e);
  }
}

void attentionLayer(Engine& e, const Trace& tr, int l, const FlowRequest& req,
                    kern::ThreadPool& pool, LayerWork& w, FlowGraph& g,
                    const FlowProgress& progress) {
  const int T = tr.nTokens, d = tr.nEmbd, H = tr.nHead, kvd = tr.nHeadKv * tr.headDim;
  const float* x = (l == 0 ? tr.embd : tr.layers[size_t(l) - 1].resid).data();
  const float* mid = tr.layers[size_t(l)].residMid.data();
  g.pairsTotal += int64_t(T) * (T + 1) / 2;
  if (attentionSkipped(tr.request.interventions, l)) {  // the stream passes through unchanged
    for (int i = 0; i < T; ++i) appendKept(g, l, FlowEdgeKind::Attn, i, {{-1, 1.0}});
    return;
  }
  projectValues(e, tr, l, pool, w);
  kern::Backend& be = e.backend();
  kern::Buffer kb(be, size_t(T) * kvd * 4);
  be.upload(kb.get(), tr.layers[size_t(l)].k.data(), size_t(T) * kvd * 4);
  const int block = int(std::clamp<size_t>(kMapBlockFloats / (size_t(H) * T), 1, size_t(T)));
  std::vector<std::vector<flow::KeptPart>> kept(static_cast<size_t>(T));
  std::vector<int> evaluated(size_t(T), 0);
  std::vector<flow::DestScratch> scratch(size_t(pool.size()));
  for (int i0 = 0; i0 < T; i0 += block) {
    if (progress && !progress(l, tr.nLayer)) throw Cancelled();
    const int i1 = std::min(T, i0 + block), nQ = i1 - i0;
    blockRows(be, tr, l, i0, i1, kb.f32(), w);
    pool.run(nQ, [&](int64_t task, int worker) {
      const int i = i0 + int(task);
      std::vector<const float*> rows(static_cast<size_t>(2 * H));
      for (int h = 0; h < H; ++h) {
        rows[size_t(h)] = w.maps.data() + (size_t(h) * nQ + size_t(task)) * i1;
        rows[size_t(H + h)] = w.linear.data() + (size_t(h) * nQ + size_t(task)) * i1;
      }
      flow::AttnDestination in;
      in.y = mid + size_t(i) * d;
      in.x = x + size_t(i) * d;
      in.d = d;
      in.nSrc = i + 1;
      in.nHead = H;
      in.attn = rows.data();
      in.linear = rows.data() + H;
      in.values = w.U.data();
      in.valueNorms = w.norms.data();
      in.nTokens = T;
      evaluated[size_t(i)] = flow::attentionDestination(in, req.threshold, req.prune,
                                                        scratch[size_t(worker)], kept[size_t(i)]);
    });
  }
  for (int i = 0; i < T; ++i) {
    appendKept(g, l, FlowEdgeKind::Attn, i, kept[size_t(i)]);
    g.pairsEvaluated += evaluated[size_t(i)];
  }
}

// The MLP block: parts = the MLP output (out - mid - steering) and the residual mid; y = out.
void mlpLayer(const Trace& tr, int l, double tau, kern::ThreadPool& pool, FlowGraph& g) {
  const int T = tr.nTokens, d = tr.nEmbd;
  const LayerTrace& L = tr.layers[size_t(l)];
  std::vector<std::vector<flow::KeptPart>> kept(static_cast<size_t>(T));
  pool.parallelFor(T, 16, [&](int64_t t0, int64_t t1, int) {
    std::vector<float> m(static_cast<size_t>(d));
    for (int64_t i = t0; i < t1; ++i) {
      const float* y = L.resid.data() + size_t(i) * d;
      const float* mid = L.residMid.data() + size_t(i) * d;
      std::fill(m.begin(), m.end(), 0.0f);
      addSteering(tr, l, int(i), m.data(), d);
      for (int k = 0; k < d; ++k) m[size_t(k)] = y[k] - mid[k] - m[size_t(k)];
      const std::vector<double> c = {flow::l1Contribution(y, m.data(), d),
                                     flow::l1Contribution(y, mid, d)};
      flow::keepParts(c, {0, -1}, tau, kept[size_t(i)]);
    }
  });
  for (int i = 0; i < T; ++i) appendKept(g, l, FlowEdgeKind::Mlp, i, kept[size_t(i)]);
}

}  // namespace

FlowGraph flowGraph(Engine& engine, const Trace& tr, const FlowRequest& req,
                    const FlowProgress& progress) {
  validate(engine, tr, req);
  FlowGraph g;
  g.nLayer = tr.nLayer;
  g.nTokens = tr.nTokens;
  g.threshold = req.threshold;
  const int hw = int(std::max(1u, std::thread::hardware_concurrency()));
  kern::ThreadPool pool(req.threads > 0 ? req.threads : hw);
  LayerWork work;
  for (int l = 0; l < tr.nLayer; ++l) {
    attentionLayer(engine, tr, l, req, pool, work, g, progress);
    mlpLayer(tr, l, req.threshold, pool, g);
    if (progress && !progress(l + 1, tr.nLayer)) throw Cancelled();
  }
  return g;
}

}  // namespace ll::rt::ana
