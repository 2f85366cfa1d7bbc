#include "runtime/analysis/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <stdexcept>

namespace ll::rt::ana {

std::vector<float> softmax(const float* logits, int n) {
  if (n <= 0) throw std::invalid_argument("softmax: empty row");
  float mx = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n; ++i) mx = std::max(mx, logits[i]);
  double sum = 0.0;
  std::vector<float> p(n);
  for (int i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - mx);
  for (int i = 0; i < n; ++i) p[i] = static_cast<float>(std::exp(double(logits[i]) - mx) / sum);
  return p;
}

RowStats rowStats(const float* logits, int n, int topK, int32_t chosen) {
  if (n <= 0) throw std::invalid_argument("rowStats: empty row");
  double mx = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) mx = std::max(mx, double(logits[i]));
  double sum = 0.0, sumZ = 0.0;
  for (int i = 0; i < n; ++i) {
    const double z = double(logits[i]) - mx, e = std::exp(z);
    sum += e;
    sumZ += e * z;
  }
  // H = log(sum) - E[z] with z = logit - max
  RowStats r;
  r.entropy = static_cast<float>(std::log(sum) - sumZ / sum);
  topK = std::clamp(topK, 0, n);
  if (topK > 0) {
    std::vector<int32_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + topK, idx.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (int i = 0; i < topK; ++i) {
      r.topIds.push_back(idx[i]);
      r.topProbs.push_back(static_cast<float>(std::exp(double(logits[idx[i]]) - mx) / sum));
    }
  }
  if (chosen >= 0 && chosen < n) {
    const float c = logits[chosen];
    int rank = 0;
    for (int i = 0; i < n; ++i)
      if (logits[i] > c || (logits[i] == c && i < chosen)) ++rank;
    r.rank = rank;
    r.prob = static_cast<float>(std::exp(double(c) - mx) / sum);
  }
  return r;
}

double jsd(const float* p, const float* q, int n) {
  double d = 0.0;
  for (int i = 0; i < n; ++i) {
    const double a = p[i], b = q[i], m = 0.5 * (a + b);
    if (a > 0) d += 0.5 * a * std::log(a / m);
    if (b > 0) d += 0.5 * b * std::log(b / m);
  }
  return std::max(0.0, d);
}

std::vector<float> avgPool(const std::vector<float>& s, int kernel) {
  if (kernel <= 1) return s;
  const int n = static_cast<int>(s.size()), pad = kernel / 2;
  std::vector<float> out(n);
  for (int i = 0; i < n; ++i) {
    double acc = 0.0;
    for (int j = i - pad; j < i - pad + kernel; ++j)
      if (j >= 0 && j < n) acc += s[j];
    out[i] = static_cast<float>(acc / kernel);
  }
  return out;
}

std::vector<float> maxPool(const std::vector<float>& s, int kernel) {
  if (kernel <= 1) return s;
  const int n = static_cast<int>(s.size()), pad = kernel / 2;
  std::vector<float> out(n);
  for (int i = 0; i < n; ++i) {
    float m = -std::numeric_limits<float>::infinity();
    for (int j = i - pad; j < i - pad + kernel; ++j)
      if (j >= 0 && j < n) m = std::max(m, s[j]);
    out[i] = m;
  }
  return out;
}

std::vector<int> topKIndices(const std::vector<float>& s, int k, int limit) {
  const int n = limit < 0 ? static_cast<int>(s.size()) : std::min<int>(limit, s.size());
  k = std::clamp(k, 0, n);
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int a, int b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

double jaccard(const std::vector<int>& a, const std::vector<int>& b) {
  std::set<int> sa(a.begin(), a.end()), sb(b.begin(), b.end());
  if (sa.empty() && sb.empty()) return 1.0;
  size_t inter = 0;
  for (int x : sa) inter += sb.count(x);
  return double(inter) / double(sa.size() + sb.size() - inter);
}

}  // namespace ll::rt::ana
