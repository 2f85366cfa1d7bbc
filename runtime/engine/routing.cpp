#include "runtime/engine/routing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace ll::rt {

void applyRouterEdits(float* z, int nExpert, int layer, const std::vector<RouterEdit>& edits) {
  bool anyStd = false;
  for (const auto& e : edits) anyStd |= e.layer == layer && e.kind == RouterEditKind::BiasStd;
  if (anyStd && nExpert > 1) {
    double mean = 0, var = 0;
    for (int i = 0; i < nExpert; ++i) mean += z[i];
    mean /= nExpert;
    for (int i = 0; i < nExpert; ++i) var += (z[i] - mean) * (z[i] - mean);
    const float sd = static_cast<float>(std::sqrt(var / (nExpert - 1)));
    for (const auto& e : edits)
      if (e.layer == layer && e.kind == RouterEditKind::BiasStd) z[e.expert] += e.value * sd;
  }
  for (const auto& e : edits)
    if (e.layer == layer && e.kind == RouterEditKind::Bias) z[e.expert] += e.value;
  float maxZ = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < nExpert; ++i) maxZ = std::max(maxZ, z[i]);
  for (const auto& e : edits)
    if (e.layer == layer && e.kind == RouterEditKind::Force)
      z[e.expert] = maxZ + (e.value > 0 ? e.value : 1e-3f);
  for (const auto& e : edits)
    if (e.layer == layer && e.kind == RouterEditKind::Ban)
      z[e.expert] = -std::numeric_limits<float>::infinity();
  // Softmax over nothing is 0/0: refuse rather than route with NaN weights.
  if (std::all_of(z, z + nExpert, [](float v) { return std::isinf(v) && v < 0; }))
    throw std::invalid_argument("router edits leave no expert of layer " + std::to_string(layer) +
                                " to route to (all " + std::to_string(nExpert) +
                                " are switched off): allow at least one");
}

RoutingResult route(const float* logits, int n, int nExpert, int k, bool renormalise) {
  RoutingResult r;
  r.probs.resize(static_cast<size_t>(n) * nExpert);
  r.experts.resize(static_cast<size_t>(n) * k);
  r.weights.resize(static_cast<size_t>(n) * k);
  std::vector<int> order(nExpert);
  for (int t = 0; t < n; ++t) {
    const float* z = logits + static_cast<size_t>(t) * nExpert;
    float* p = r.probs.data() + static_cast<size_t>(t) * nExpert;
    float m = -std::numeric_limits<float>::infinity();
    for (int e = 0; e < nExpert; ++e) m = std::max(m, z[e]);
    double sum = 0;
    for (int e = 0; e < nExpert; ++e) {
      p[e] = std::isinf(z[e]) && z[e] < 0 ? 0.0f : std::exp(z[e] - m);
      sum += p[e];
    }
    if (!(sum > 0))  // every logit -inf (or NaN): no distribution to route by
      throw std::invalid_argument("routing: token " + std::to_string(t) +
                                  " has no expert with a finite router logit");
    for (int e = 0; e < nExpert; ++e) p[e] = static_cast<float>(p[e] / sum);
    std::iota(order.begin(), order.end(), 0);
    // Rank by the edited logit (monotone with p, and keeps banned experts last even at p = 0).
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return z[a] > z[b]; });
    float wsum = 0;
    for (int j = 0; j < k; ++j) {
      r.experts[static_cast<size_t>(t) * k + j] = order[j];
      r.weights[static_cast<size_t>(t) * k + j] = p[order[j]];
      wsum += p[order[j]];
    }
    if (renormalise && wsum > 0)
      for (int j = 0; j < k; ++j) r.weights[static_cast<size_t>(t) * k + j] /= wsum;
  }
  return r;
}

}  // namespace ll::rt
