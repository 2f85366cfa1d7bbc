#include "runtime/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace ll::rt {

int32_t argmaxLowest(const float* logits, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

int32_t Sampler::next(const float* logits, int n) {
  if (m_opt.greedy || m_opt.temperature <= 0.0f) return argmaxLowest(logits, n);
  std::vector<int32_t> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  int keep = n;
  if (m_opt.topK > 0) keep = std::min(keep, m_opt.topK);
  std::vector<double> p(keep);
  const double m = logits[ids[0]];
  double sum = 0;
  for (int i = 0; i < keep; ++i) {
    p[i] = std::exp((logits[ids[i]] - m) / m_opt.temperature);
    sum += p[i];
  }
  for (auto& x : p) x /= sum;
  if (m_opt.topP < 1.0f) {
    double c = 0;
    int cut = keep;
    for (int i = 0; i < keep; ++i) {
      c += p[i];
      if (c >= m_opt.topP) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    double s2 = 0;
    for (int i = 0; i < keep; ++i) s2 += p[i];
    for (int i = 0; i < keep; ++i) p[i] /= s2;
  }
  const double u = static_cast<double>(m_rng() >> 11) * (1.0 / 9007199254740992.0);
  double c = 0;
  for (int i = 0; i < keep; ++i) {
    c += p[i];
    if (u < c) return ids[i];
  }
  return ids[keep - 1];
}

}  // namespace ll::rt
