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
// ||Delta_l|| / ||h_{l-1}||, cos(Delta_l, h_{l-1}) and the active marking at row P, layer l.
struct UpdateMeasures {
  float rel = 0, cos = 0;
  unsigned char active = 0;
};
UpdateMeasures updateMeasures(const Trace& base, const DepthUsage& u, int l, int P) {
  const int T = base.nTokens, d = base.nEmbd;
  const float* prev = (l == 0 ? base.embd.data() : base.layers[l - 1].resid.data()) + size_t(P) * d;
  const float* cur = base.layers[l].resid.data() + size_t(P) * d;
  double dot = 0, nd = 0, np = 0;
  for (int i = 0; i < d; ++i) {
    const double delta = double(cur[i]) - prev[i];
    dot += delta * prev[i];
    nd += delta * delta;
    np += double(prev[i]) * prev[i];
  }
  UpdateMeasures m;
  m.rel = u.relative[size_t(l) * T + P];
  m.cos = nd > 0 && np > 0 ? float(dot / std::sqrt(nd * np)) : 0.0f;
  m.active = u.active[size_t(l) * T + P];
  return m;
}

void fillUpdateMeasures(const Trace& base, LayerSkipResult& r) {
  const int L = base.nLayer;
  const DepthUsage u = depthUsage(base);
  r.relUpdate.assign(size_t(L), 0.0f);
  r.cosUpdate.assign(size_t(L), 0.0f);
  r.active.assign(size_t(L), 0);
  for (int l = 0; l < L; ++l) {
    const UpdateMeasures m = updateMeasures(base, u, l, r.position);
    r.relUpdate[l] = m.rel;
    r.cosUpdate[l] = m.cos;
    r.active[l] = m.active;
  }
}

void checkPosition(const LayerSkipResult& r, int position) {
  if (position < 0 || position >= r.nTokens)
    throw std::invalid_argument("layer skip: position " + std::to_string(position) +
                                " is out of range (0.." + std::to_string(r.nTokens - 1) + ")");
}

// kl, top1Skip and top1Changed at r.position from the every-position arrays.
void readSkipped(LayerSkipResult& r) {
  const int L = r.nLayer, T = r.nTokens, P = r.position;
  r.kl.resize(size_t(L));
  r.top1Skip.resize(size_t(L));
  r.top1Changed.resize(size_t(L));
  for (int l = 0; l < L; ++l) {
    r.kl[l] = r.klAll[size_t(l) * T + P];
    r.top1Skip[l] = r.top1SkipAll[size_t(l) * T + P];
    r.top1Changed[l] = r.top1Skip[l] != r.top1 ? 1 : 0;
  }
}
}  // namespace

void selectPosition(const Trace& base, LayerSkipResult& r, int position) {
  const int L = r.nLayer, T = r.nTokens;
  if (base.nTokens != T || base.nLayer != L || r.klAll.size() != size_t(L) * T)
    throw std::invalid_argument("layer skip: the result is not of this trace");
  checkPosition(r, position);
  r.position = position;
  r.top1 = rowStats(base.logitsRow(position), base.nVocab, 1).topIds[0];
  readSkipped(r);
  fillUpdateMeasures(base, r);
}

LayerSkipPositions layerSkipPositions(const Trace& base) {
  const int L = base.nLayer, T = base.nTokens;
  LayerSkipPositions at;
  const DepthUsage u = depthUsage(base);
  at.top1.resize(size_t(T));
  at.relUpdate.resize(size_t(L) * T);
  at.cosUpdate.resize(size_t(L) * T);
  at.active.resize(size_t(L) * T);
  for (int t = 0; t < T; ++t) {
    at.top1[t] = rowStats(base.logitsRow(t), base.nVocab, 1).topIds[0];
    for (int l = 0; l < L; ++l) {
      const UpdateMeasures m = updateMeasures(base, u, l, t);
      at.relUpdate[size_t(l) * T + t] = m.rel;
      at.cosUpdate[size_t(l) * T + t] = m.cos;
      at.active[size_t(l) * T + t] = m.active;
    }
  }
  return at;
}

void selectPosition(const LayerSkipPositions& at, LayerSkipResult& r, int position) {
  const int L = r.nLayer, T = r.nTokens;
  const size_t n = size_t(L) * T;
  if (r.klAll.size() != n || r.top1SkipAll.size() != n || at.top1.size() != size_t(T) ||
      at.relUpdate.size() != n || at.cosUpdate.size() != n || at.active.size() != n)
    throw std::invalid_argument("layer skip: the result has no values for every position");
  checkPosition(r, position);
  r.position = position;
  r.top1 = at.top1[size_t(position)];
  readSkipped(r);
  r.relUpdate.assign(size_t(L), 0.0f);
  r.cosUpdate.assign(size_t(L), 0.0f);
  r.active.assign(size_t(L), 0);
  for (int l = 0; l < L; ++l) {
    r.relUpdate[l] = at.relUpdate[size_t(l) * T + position];
    r.cosUpdate[l] = at.cosUpdate[size_t(l) * T + position];
    r.active[l] = at.active[size_t(l) * T + position];
  }
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

nlohmann::json layerSkipJson(const LayerSkipResult& r, const LayerSkipPositions* all) {
  nlohmann::json j;
  j["n_layer"] = r.nLayer;
  j["n_tokens"] = r.nTokens;
  j["position"] = r.position;
  j["sublayer"] = skipPartName(r.part);
  j["top1"] = r.top1;
  j["kl"] = r.kl;
  j["kl_mean"] = r.klMean;
  auto bools = [](const unsigned char* v, size_t n) {
    nlohmann::json a = nlohmann::json::array();
    for (size_t i = 0; i < n; ++i) a.push_back(v[i] != 0);
    return a;
  };
  j["top1_changed"] = bools(r.top1Changed.data(), r.top1Changed.size());
  j["top1_skip"] = r.top1Skip;
  j["rel_update"] = r.relUpdate;
  j["cos_update"] = r.cosUpdate;
  j["active"] = bools(r.active.data(), r.active.size());
  if (all) {
    const size_t L = size_t(r.nLayer), T = size_t(r.nTokens);
    // [nLayer][nTokens] rows of a row-major array.
    const auto rows = [&](const auto& v) {
      nlohmann::json a = nlohmann::json::array();
      for (size_t l = 0; l < L; ++l)
        a.push_back(
            std::vector<std::decay_t<decltype(v[0])>>(v.begin() + l * T, v.begin() + (l + 1) * T));
      return a;
    };
    j["kl_all"] = rows(r.klAll);
    j["top1_skip_all"] = rows(r.top1SkipAll);
    j["top1_all"] = all->top1;
    j["rel_update_all"] = rows(all->relUpdate);
    j["cos_update_all"] = rows(all->cosUpdate);
    nlohmann::json active = nlohmann::json::array();
    for (size_t l = 0; l < L; ++l) active.push_back(bools(all->active.data() + l * T, T));
    j["active_all"] = std::move(active);
  }
  return j;
}

}  // namespace ll::rt::ana
