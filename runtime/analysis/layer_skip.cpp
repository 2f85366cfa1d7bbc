// Layer skipping (ALGORITHMS.md §15): one skipped pass per layer, KL against the unskipped logits.
#include "runtime/analysis/layer_skip.h"

#include <cmath>
#include <stdexcept>

#include "runtime/analysis/depth_usage.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/stats.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace ll::rt::ana {

std::string skipPartName(SkipPart part) {
  switch (part) {
    case SkipPart::Attention:
      return "attn";
    case SkipPart::Mlp:
      return "mlp";
    case SkipPart::Layer:
      break;
  }
  return "layer";
}

SkipPart parseSkipPart(const std::string& name) {
  if (name == "layer" || name == "whole") return SkipPart::Layer;
  if (name == "attn") return SkipPart::Attention;
  if (name == "mlp") return SkipPart::Mlp;
  throw std::invalid_argument("sublayer '" + name + "' is not one of layer, attn, mlp");
}

namespace {
// log-sum-exp of one logit row in double.
double logSumExp(const float* x, int n) {
  double mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, double(x[i]));
  if (!std::isfinite(mx)) return mx;
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
  return mx + std::log(s);
}
}  // namespace

double klFromLogits(const float* p, const float* q, int n) {
  const double lp = logSumExp(p, n), lq = logSumExp(q, n);
  double kl = 0;
  for (int i = 0; i < n; ++i) {
    const double a = double(p[i]) - lp;
    if (!std::isfinite(a)) continue;  // p_i = 0 contributes nothing
    kl += std::exp(a) * (a - (double(q[i]) - lq));
  }
  return std::max(0.0, kl);  // rounding can leave a tiny negative for identical rows
}

namespace {
// ||Delta_l|| / ||h_{l-1}||, cos(Delta_l, h_{l-1}) and the active marking at row P.
void fillUpdateMeasures(const Trace& base, LayerSkipResult& r) {
  const int L = base.nLayer, T = base.nTokens, d = base.nEmbd, P = r.position;
  const DepthUsage u = depthUsage(base);
  r.relUpdate.assign(size_t(L), 0.0f);
  r.cosUpdate.assign(size_t(L), 0.0f);
  r.active.assign(size_t(L), 0);
  for (int l = 0; l < L; ++l) {
    const float* prev =
        (l == 0 ? base.embd.data() : base.layers[l - 1].resid.data()) + size_t(P) * d;
    const float* cur = base.layers[l].resid.data() + size_t(P) * d;
    double dot = 0, nd = 0, np = 0;
    for (int i = 0; i < d; ++i) {
      const double delta = double(cur[i]) - prev[i];
      dot += delta * prev[i];
      nd += delta * delta;
      np += double(prev[i]) * prev[i];
    }
    r.relUpdate[l] = u.relative[size_t(l) * T + P];
    r.cosUpdate[l] = nd > 0 && np > 0 ? float(dot / std::sqrt(nd * np)) : 0.0f;
    r.active[l] = u.active[size_t(l) * T + P];
  }
}
}  // namespace

void selectPosition(const Trace& base, LayerSkipResult& r, int position) {
  const int L = r.nLayer, T = r.nTokens;
  if (base.nTokens != T || base.nLayer != L || r.klAll.size() != size_t(L) * T)
    throw std::invalid_argument("layer skip: the result is not of this trace");
  if (position < 0 || position >= T)
    throw std::invalid_argument("layer skip: position " + std::to_string(position) +
                                " is out of range (0.." + std::to_string(T - 1) + ")");
  r.position = position;
  r.top1 = rowStats(base.logitsRow(position), base.nVocab, 1).topIds[0];
  r.kl.resize(size_t(L));
  r.top1Skip.resize(size_t(L));
  r.top1Changed.resize(size_t(L));
  for (int l = 0; l < L; ++l) {
    r.kl[l] = r.klAll[size_t(l) * T + position];
    r.top1Skip[l] = r.top1SkipAll[size_t(l) * T + position];
    r.top1Changed[l] = r.top1Skip[l] != r.top1 ? 1 : 0;
  }
  fillUpdateMeasures(base, r);
}

LayerSkipResult layerSkip(Session& s, const Trace& base, const LayerSkipRequest& req,
                          const SkipProgress& progress) {
  if (!base.captured) throw std::invalid_argument("layer skip: the trace was run without capture");
  if (!base.allLogits)
    throw std::invalid_argument("layer skip: the trace keeps the last position's logits only");
  if (!base.request.interventions.skips.empty())
    throw std::invalid_argument("layer skip: the base run already skips a layer");
  const int L = base.nLayer, T = base.nTokens, V = base.nVocab;
  LayerSkipResult r;
  r.nLayer = L;
  r.nTokens = T;
  r.part = req.part;
  r.position = req.position < 0 ? T + req.position : req.position;
  if (r.position < 0 || r.position >= T)
    throw std::invalid_argument("layer skip: position " + std::to_string(req.position) +
                                " is out of range (0.." + std::to_string(T - 1) + ")");
  r.klAll.resize(size_t(L) * T);
  r.top1SkipAll.resize(size_t(L) * T);
  r.klMean.resize(size_t(L));
  for (int l = 0; l < L; ++l) {
    Interventions iv = base.request.interventions;
    iv.skips.push_back({l, req.part});
    auto sk = runIds(s, base.ids, iv, false, base.positions, true);
    double sum = 0;
    for (int t = 0; t < T; ++t) {
      const double kl = klFromLogits(base.logitsRow(t), sk->logitsRow(t), V);
      sum += kl;
      r.klAll[size_t(l) * T + t] = kl;
      r.top1SkipAll[size_t(l) * T + t] = rowStats(sk->logitsRow(t), V, 1).topIds[0];
    }
    r.klMean[l] = sum / T;
    if (progress && !progress(l + 1, L)) throw Cancelled();
  }
  selectPosition(base, r, r.position);
  return r;
}

nlohmann::json layerSkipJson(const LayerSkipResult& r) {
  nlohmann::json j;
  j["n_layer"] = r.nLayer;
  j["n_tokens"] = r.nTokens;
  j["position"] = r.position;
  j["sublayer"] = skipPartName(r.part);
  j["top1"] = r.top1;
  j["kl"] = r.kl;
  j["kl_mean"] = r.klMean;
  auto bools = [](const std::vector<unsigned char>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (unsigned char b : v) a.push_back(b != 0);
    return a;
  };
  j["top1_changed"] = bools(r.top1Changed);
  j["top1_skip"] = r.top1Skip;
  j["rel_update"] = r.relUpdate;
  j["cos_update"] = r.cosUpdate;
  j["active"] = bools(r.active);
  return j;
}

}  // namespace ll::rt::ana
