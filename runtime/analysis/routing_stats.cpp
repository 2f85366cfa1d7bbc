#include "runtime/analysis/routing_stats.h"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

#include "runtime/analysis/stats.h"

namespace ll::rt::ana {

namespace {
void checkTrace(const Trace& tr) {
  if (!tr.captured) throw std::invalid_argument("routing: the trace was run without capture");
  if (tr.nExpert <= 0) throw std::invalid_argument("routing: the model has no experts");
}
bool isMoe(const Trace& tr, int l) {
  return !tr.layers[l].experts.empty();
}
}  // namespace

std::vector<int> moeLayers(const Trace& tr) {
  checkTrace(tr);
  std::vector<int> out;
  for (int l = 0; l < tr.nLayer; ++l)
    if (isMoe(tr, l)) out.push_back(l);
  return out;
}

std::vector<float> tokenExpertMatrix(const Trace& tr, int layer) {
  checkTrace(tr);
  if (layer < 0 || layer >= tr.nLayer) throw std::invalid_argument("routing: layer out of range");
  if (!isMoe(tr, layer)) return {};
  const int T = tr.nTokens, E = tr.nExpert, k = tr.nExpertUsed;
  const LayerTrace& L = tr.layers[layer];
  std::vector<float> m(size_t(T) * E, 0.0f);
  for (int t = 0; t < T; ++t)
    for (int j = 0; j < k; ++j) {
      const int e = L.experts[size_t(t) * k + j];
      if (e >= 0 && e < E) m[size_t(t) * E + e] += L.expertWeights[size_t(t) * k + j];
    }
  return m;
}

std::vector<float> layerExpertMatrix(const Trace& tr, int t) {
  checkTrace(tr);
  if (t < 0 || t >= tr.nTokens) throw std::invalid_argument("routing: token out of range");
  const int E = tr.nExpert;
  std::vector<float> m(size_t(tr.nLayer) * E, 0.0f);
  for (int l = 0; l < tr.nLayer; ++l) {
    auto te = tokenExpertMatrix(tr, l);
    if (!te.empty()) std::copy_n(te.begin() + size_t(t) * E, E, m.begin() + size_t(l) * E);
  }
  return m;
}

std::vector<float> expertLoad(const Trace& tr) {
  checkTrace(tr);
  const int T = tr.nTokens, E = tr.nExpert, k = tr.nExpertUsed;
  std::vector<float> load(size_t(tr.nLayer) * E, 0.0f);
  for (int l = 0; l < tr.nLayer; ++l) {
    if (!isMoe(tr, l)) continue;
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < k; ++j) {
        const int e = tr.layers[l].experts[size_t(t) * k + j];
        if (e >= 0 && e < E) load[size_t(l) * E + e] += 1.0f;
      }
    for (int e = 0; e < E; ++e) load[size_t(l) * E + e] /= static_cast<float>(T);
  }
  return load;
}

std::vector<float> meanRouting(const Trace& tr) {
  checkTrace(tr);
  const int T = tr.nTokens, E = tr.nExpert;
  std::vector<float> m(size_t(tr.nLayer) * E, 0.0f);
  for (int l = 0; l < tr.nLayer; ++l) {
    auto te = tokenExpertMatrix(tr, l);
    if (te.empty()) continue;
    std::vector<double> acc(E, 0.0);
    double total = 0;
    for (int t = 0; t < T; ++t)
      for (int e = 0; e < E; ++e) acc[e] += te[size_t(t) * E + e];
    for (double x : acc) total += x;
    for (int e = 0; e < E; ++e)
      m[size_t(l) * E + e] = total > 0 ? static_cast<float>(acc[e] / total) : 0.0f;
  }
  return m;
}

std::vector<int> expertsPerToken(const Trace& tr, float coverage) {
  checkTrace(tr);
  const int T = tr.nTokens, E = tr.nExpert;
  std::vector<int> out(size_t(tr.nLayer) * T, 0);
  std::vector<float> p(E);
  for (int l = 0; l < tr.nLayer; ++l) {
    if (!isMoe(tr, l)) continue;
    for (int t = 0; t < T; ++t) {
      std::copy_n(tr.layers[l].routerProbs.begin() + size_t(t) * E, E, p.begin());
      std::sort(p.begin(), p.end(), std::greater<float>());
      double c = 0;
      int n = 0;
      while (n < E && c < coverage) c += p[n++];
      out[size_t(l) * T + t] = n;
    }
  }
  return out;
}

std::vector<float> routingJsd(const Trace& a, const Trace& b) {
  if (a.nLayer != b.nLayer || a.nExpert != b.nExpert)
    throw std::invalid_argument("routing JSD: the traces come from different models");
  auto ma = meanRouting(a), mb = meanRouting(b);
  const int E = a.nExpert;
  std::vector<float> out(a.nLayer, 0.0f);
  for (int l = 0; l < a.nLayer; ++l)
    out[l] = static_cast<float>(jsd(ma.data() + size_t(l) * E, mb.data() + size_t(l) * E, E));
  return out;
}

std::vector<std::pair<int, int>> pickExperts(const std::vector<float>& task,
                                             const std::vector<float>& neutral, int nLayer,
                                             int nExpert, float tau,
                                             const std::vector<int>& layers) {
  if (task.size() != size_t(nLayer) * nExpert || neutral.size() != task.size())
    throw std::invalid_argument("expert picker: frequency tables have the wrong size");
  std::vector<int> ls = layers;
  if (ls.empty())
    for (int l = 0; l < nLayer; ++l) ls.push_back(l);
  std::vector<std::pair<int, int>> out;
  for (int l : ls) {
    if (l < 0 || l >= nLayer) throw std::invalid_argument("expert picker: layer out of range");
    for (int e = 0; e < nExpert; ++e)
      if (task[size_t(l) * nExpert + e] - neutral[size_t(l) * nExpert + e] > tau)
        out.emplace_back(l, e);
  }
  return out;
}

std::vector<int> middleLayers(int nLayer) {
  std::vector<int> out;
  for (int l = nLayer / 3; l < (2 * nLayer) / 3; ++l) out.push_back(l);
  if (out.empty() && nLayer > 0) out.push_back(nLayer / 2);
  return out;
}

namespace {
std::vector<RouterEdit> edits(const std::vector<std::pair<int, int>>& ex, RouterEditKind k,
                              float v) {
  std::vector<RouterEdit> out;
  for (auto [l, e] : ex) out.push_back({l, e, k, v});
  return out;
}
}  // namespace

std::vector<RouterEdit> softPromotion(const std::vector<std::pair<int, int>>& ex, float lambda) {
  return edits(ex, RouterEditKind::BiasStd, lambda);
}
std::vector<RouterEdit> hardForce(const std::vector<std::pair<int, int>>& ex, float eps) {
  return edits(ex, RouterEditKind::Force, eps);
}
std::vector<RouterEdit> switchOff(const std::vector<std::pair<int, int>>& ex) {
  return edits(ex, RouterEditKind::Ban, 0.0f);
}

std::vector<int> overForcedLayers(const std::vector<RouterEdit>& ed, int nExpertUsed) {
  std::map<int, std::vector<int>> forced;
  for (const auto& e : ed)
    if (e.kind == RouterEditKind::Force) {
      auto& v = forced[e.layer];
      if (std::find(v.begin(), v.end(), e.expert) == v.end()) v.push_back(e.expert);
    }
  std::vector<int> out;
  for (const auto& [l, v] : forced)
    if (static_cast<int>(v.size()) > nExpertUsed) out.push_back(l);
  return out;
}

}  // namespace ll::rt::ana
