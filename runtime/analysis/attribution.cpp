#include "runtime/analysis/attribution.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>
#include <string>

#include "runtime/engine/attention_rows.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/trace_recompute.h"

namespace ll::rt::ana {

namespace {

// A weight vector of n floats on the host (null weight: empty).
std::vector<float> hostVec(Engine& e, const kern::Weight* w, size_t n) {
  if (!w) return {};
  std::vector<float> v(n);
  e.backend().download(v.data(), e.weights().vec(w), n * 4);
  return v;
}

// The linear read-out through the frozen final norm: logit(v) = sum_i w_i v_i for any residual
// update v. RMSNorm: w = u * g * s; LayerNorm also removes v's mean, which is w - mean(w).
struct Readout {
  std::vector<double> w;
  double operator()(const float* v) const {
    double acc = 0;
    for (size_t i = 0; i < w.size(); ++i) acc += w[i] * v[i];
    return acc;
  }
  double operator()(const std::vector<double>& v) const {
    return std::inner_product(w.begin(), w.end(), v.begin(), 0.0);
  }
};

// 1 / rms(x) as the backend's rmsNorm computes it.
double invRms(const std::vector<double>& x, float eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  return 1.0 / std::sqrt(ss / double(x.size()) + eps);
}

void validate(const Engine& e, const Trace& tr, const AttributionRequest& req, int P) {
  const ModelSpec& s = e.spec();
  if (!tr.captured || static_cast<int>(tr.layers.size()) != s.nLayer || tr.nEmbd != s.nEmbd ||
      tr.nHead != s.nHead || tr.request.capture.lastLayer >= 0)
    throw std::invalid_argument(
        "attribution needs a full-capture trace of this model (no early exit)");
  if (P < 0 || P >= tr.nTokens)
    throw std::invalid_argument("attribution: position " + std::to_string(P) +
                                " is out of range (0.." + std::to_string(tr.nTokens - 1) + ")");
  auto inVocab = [&](int32_t id) { return id >= 0 && id < s.nVocab; };
  if (!inVocab(req.target))
    throw std::invalid_argument("attribution: target token " + std::to_string(req.target) +
                                " is outside the vocabulary (0.." + std::to_string(s.nVocab - 1) +
                                ")");
  if (req.other != -1 && !inVocab(req.other))
    throw std::invalid_argument("attribution: other token " + std::to_string(req.other) +
                                " is outside the vocabulary (0.." + std::to_string(s.nVocab - 1) +
                                ")");
}

// u = W_U[a] - W_U[b] (b < 0: W_U[a]).
std::vector<double> unembedDirection(Engine& e, int32_t a, int32_t b) {
  const int d = e.spec().nEmbd;
  kern::Backend& be = e.backend();
  const int32_t ids[2] = {a, b < 0 ? a : b};
  kern::Buffer rows(be, size_t(2) * d * 4);
  be.getRows(e.weights().head(), ids, 2, rows.f32());
  std::vector<float> h(size_t(2) * d);
  be.download(h.data(), rows.get(), h.size() * 4);
  be.sync();
  std::vector<double> u(d);
  for (int i = 0; i < d; ++i) u[i] = double(h[i]) - (b < 0 ? 0.0 : double(h[size_t(d) + i]));
  return u;
}

Readout finalReadout(Engine& e, const Trace& tr, int P, const std::vector<double>& u,
                     double& normBias) {
  const ModelSpec& s = e.spec();
  const int d = s.nEmbd;
  const float* x = tr.layers.back().resid.data() + size_t(P) * d;
  const std::vector<float> g = hostVec(e, e.weights().outputNorm, d);
  const std::vector<float> beta = hostVec(e, e.weights().outputNormB, d);
  std::vector<double> xc(x, x + d);
  if (s.norm == NormKind::LayerNorm) {
    const double mean = std::accumulate(xc.begin(), xc.end(), 0.0) / d;
    for (double& v : xc) v -= mean;
  }
  const double scale = invRms(xc, s.normEps);  // LayerNorm: 1/sqrt(var + eps)
  Readout r;
  r.w.resize(d);
  for (int i = 0; i < d; ++i) r.w[i] = u[i] * (g.empty() ? 1.0 : g[i]) * scale;
  if (s.norm == NormKind::LayerNorm) {
    const double mw = std::accumulate(r.w.begin(), r.w.end(), 0.0) / d;
    for (double& w : r.w) w -= mw;
  }
  normBias = 0;
  for (size_t i = 0; i < beta.size(); ++i) normBias += u[i] * beta[i];
  return r;
}

// Per-head outputs of layer l at row P as they enter the residual stream ([nHead, d]) and the
// output bias's share (bias [d]), with a post-attention norm's scale frozen at its run value.
void headOutputs(Engine& e, const Trace& tr, int l, int P, std::vector<double>& heads,
                 std::vector<double>& bias) {
  const ModelSpec& s = e.spec();
  const LayerWeights& L = e.weights().layer(l);
  kern::Backend& be = e.backend();
  const int d = s.nEmbd, H = s.nHead, hd = s.headDim, qd = H * hd, kvd = s.nHeadKv * hd, n = P + 1;
  // Values of rows [0, P] from the layer's stored input (the trace keeps no V).
  const TraceTensor<float>& in = l == 0 ? tr.embd : tr.layers[l - 1].resid;
  kern::Buffer x(be, size_t(n) * d * 4), h(be, size_t(n) * d * 4), v(be, size_t(n) * kvd * 4);
  be.upload(x.get(), in.data(), size_t(n) * d * 4);
  normRows(be, s, e.weights(), L.attnNorm, L.attnNormB, x.f32(), h.f32(), n);
  be.matmul(*L.wv, h.f32(), v.f32(), n);
  if (L.bv) be.addBias(v.f32(), e.weights().vec(L.bv), n, kvd);
  std::vector<float> vh(size_t(n) * kvd);
  be.download(vh.data(), v.get(), vh.size() * 4);
  be.sync();
  // z_h = sum_s p_hs v_s (the pass's own masks and attention semantics), one row per head with
  // only that head's slice set, so one W_O product gives every head's projection.
  const AttentionRows rows(tr, l, P);
  std::vector<float> p(tr.nTokens), z(size_t(H) * qd, 0.0f);
  const int group = H / s.nHeadKv;
  for (int hh = 0; hh < H; ++hh) {
    rows.row(hh, P, p.data());
    const int g = hh / group;
    for (int j = 0; j < hd; ++j) {
      double acc = 0;
      for (int t = 0; t <= P; ++t) acc += double(p[t]) * vh[size_t(t) * kvd + size_t(g) * hd + j];
      z[size_t(hh) * qd + size_t(hh) * hd + j] = float(acc);
    }
  }
  kern::Buffer zb(be, z.size() * 4), ob(be, size_t(H) * d * 4);
  be.upload(zb.get(), z.data(), z.size() * 4);
  be.matmul(*L.wo, zb.f32(), ob.f32(), H);
  std::vector<float> o(size_t(H) * d);
  be.download(o.data(), ob.get(), o.size() * 4);
  be.sync();
  heads.assign(o.begin(), o.end());
  bias.assign(d, 0.0);
  const std::vector<float> bo = hostVec(e, L.bo, d);
  for (size_t i = 0; i < bo.size(); ++i) bias[i] = bo[i];
  if (!L.postAttnNorm) return;
  // Gemma: the stream receives g * (W_O z + b_O) / rms(W_O z + b_O); freeze that scale.
  std::vector<double> full(bias);
  for (int hh = 0; hh < H; ++hh)
    for (int i = 0; i < d; ++i) full[i] += heads[size_t(hh) * d + i];
  const double r = invRms(full, s.normEps);
  const std::vector<float> g = hostVec(e, L.postAttnNorm, d);
  for (int i = 0; i < d; ++i) {
    for (int hh = 0; hh < H; ++hh) heads[size_t(hh) * d + i] *= g[i] * r;
    bias[i] *= g[i] * r;
  }
}

// Steering added to layer l's output at row P.
std::vector<double> steeringAt(const Trace& tr, int l, int P, int d) {
  std::vector<double> v(d, 0.0);
  for (const Steering& st : tr.request.interventions.steering)
    if (st.layer == l && P >= st.fromPos && static_cast<int>(st.vector.size()) == d)
      for (int i = 0; i < d; ++i) v[i] += double(st.alpha) * st.vector[i];
  return v;
}

}  // namespace

double Attribution::total() const {
  return embed + std::accumulate(attn.begin(), attn.end(), 0.0) +
         std::accumulate(mlp.begin(), mlp.end(), 0.0) + bias;
}

Attribution directLogitAttribution(Engine& engine, const Trace& tr, const AttributionRequest& req) {
  const int P = req.position < 0 ? tr.nTokens - 1 : req.position;
  validate(engine, tr, req, P);
  const ModelSpec& s = engine.spec();
  const int d = s.nEmbd, NL = s.nLayer, H = s.nHead;
  Attribution r;
  r.nLayer = NL;
  r.nHead = H;
  r.position = P;
  r.target = req.target;
  r.other = req.other;
  r.attn.assign(NL, 0.0);
  r.mlp.assign(NL, 0.0);
  r.heads.assign(size_t(NL) * H, 0.0);

  const std::vector<double> u = unembedDirection(engine, req.target, req.other);
  double normBias = 0;
  const Readout f = finalReadout(engine, tr, P, u, normBias);
  r.bias = normBias;
  const size_t row = size_t(P) * d;
  r.embed = f(tr.embd.data() + row);
  std::vector<double> delta(d), heads, bo;
  for (int l = 0; l < NL; ++l) {
    const LayerWeights& L = engine.weights().layer(l);
    const float* in = (l == 0 ? tr.embd : tr.layers[l - 1].resid).data() + row;
    const float* mid = tr.layers[l].residMid.data() + row;
    const float* out = tr.layers[l].resid.data() + row;
    headOutputs(engine, tr, l, P, heads, bo);
    const double attnBias = f(bo);
    for (int i = 0; i < d; ++i) delta[i] = double(mid[i]) - in[i];
    r.attn[l] = f(delta) - attnBias;
    for (int hh = 0; hh < H; ++hh) {
      double acc = 0;
      for (int i = 0; i < d; ++i) acc += f.w[i] * heads[size_t(hh) * d + i];
      r.heads[size_t(l) * H + hh] = acc;
    }
    const std::vector<double> steer = steeringAt(tr, l, P, d);
    const double steerTerm = f(steer);
    // A dense MLP's output bias is constant; behind a post-FFN norm or in experts it is not.
    double mlpBias = 0;
    if (!L.isMoe() && L.downB && !L.postFfnNorm) {
      const std::vector<float> b = hostVec(engine, L.downB, d);
      mlpBias = f(b.data());
    }
    for (int i = 0; i < d; ++i) delta[i] = double(out[i]) - mid[i] - steer[i];
    r.mlp[l] = f(delta) - mlpBias;
    r.bias += attnBias + mlpBias + steerTerm;
    r.steering += steerTerm;
  }

  const std::vector<float> y = tr.finalNormRows(P, P + 1);
  r.logit = std::inner_product(u.begin(), u.end(), y.begin(), 0.0);
  r.softcapped = s.finalSoftcap > 0.0f;
  r.modelLogit = r.logit;
  if (r.softcapped) {
    const double c = s.finalSoftcap;
    auto cap = [c](double z) { return c * std::tanh(z / c); };
    // The cap applies to each token's logit, so the difference is taken after it.
    double b = 0;
    const std::vector<double> ua = unembedDirection(engine, req.target, -1);
    const double a = std::inner_product(ua.begin(), ua.end(), y.begin(), 0.0);
    if (req.other >= 0) {
      const std::vector<double> ub = unembedDirection(engine, req.other, -1);
      b = std::inner_product(ub.begin(), ub.end(), y.begin(), 0.0);
    }
    r.modelLogit = cap(a) - (req.other >= 0 ? cap(b) : 0.0);
  }
  return r;
}

std::string attributionJson(const Attribution& a) {
  nlohmann::json heads = nlohmann::json::array();
  for (int l = 0; l < a.nLayer; ++l)
    heads.push_back(std::vector<double>(a.heads.begin() + size_t(l) * a.nHead,
                                        a.heads.begin() + size_t(l + 1) * a.nHead));
  nlohmann::json j;
  j["embed"] = a.embed;
  j["attn"] = a.attn;
  j["mlp"] = a.mlp;
  j["heads"] = heads;
  j["bias"] = a.bias;
  j["logit"] = a.logit;
  j["position"] = a.position;
  j["target"] = a.target;
  j["other"] = a.other >= 0 ? nlohmann::json(a.other) : nlohmann::json(nullptr);
  j["steering"] = a.steering;
  j["total"] = a.total();
  j["softcapped"] = a.softcapped;
  j["model_logit"] = a.modelLogit;
  return j.dump(1);
}

}  // namespace ll::rt::ana
