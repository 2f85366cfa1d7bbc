#include "runtime/analysis/depth_usage.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ll::rt::ana {

namespace {
double l2(const float* x, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) s += double(x[i]) * x[i];
  return std::sqrt(s);
}
}  // namespace

DepthUsage depthUsage(const Trace& tr, float alpha) {
  if (!tr.captured) throw std::invalid_argument("depth usage: the trace was run without capture");
  const int L = tr.nLayer, T = tr.nTokens, d = tr.nEmbd;
  DepthUsage u;
  u.nLayer = L;
  u.nTokens = T;
  u.norm.resize(size_t(L + 1) * T);
  u.delta.resize(size_t(L) * T);
  u.active.resize(size_t(L) * T);
  u.relative.resize(size_t(L) * T);
  auto stream = [&](int row, int t) {
    return row == 0 ? tr.embd.data() + size_t(t) * d
                    : tr.layers[row - 1].resid.data() + size_t(t) * d;
  };
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r <= L; ++r)
      u.norm[size_t(r) * T + t] = static_cast<float>(l2(stream(r, t), d));
    double mx = -INFINITY, mn = INFINITY;
    for (int l = 0; l < L; ++l) {
      const double dl = double(u.norm[size_t(l + 1) * T + t]) - u.norm[size_t(l) * T + t];
      u.delta[size_t(l) * T + t] = static_cast<float>(dl);
      const double range = l == 0 ? 0.0 : mx - mn;
      u.active[size_t(l) * T + t] = dl >= alpha * range ? 1 : 0;
      mx = std::max(mx, dl);
      mn = std::min(mn, dl);
      const float* a = stream(l + 1, t);
      const float* b = stream(l, t);
      double diff = 0;
      for (int i = 0; i < d; ++i) diff += double(a[i] - b[i]) * (a[i] - b[i]);
      const double nb = u.norm[size_t(l) * T + t];
      u.relative[size_t(l) * T + t] = nb > 0 ? static_cast<float>(std::sqrt(diff) / nb) : 0.0f;
    }
  }
  return u;
}

std::vector<double> ropeWavelengths(int headDim, double base) {
  if (headDim <= 0 || base <= 0)
    throw std::invalid_argument("RoPE wavelengths: bad head dim or base");
  std::vector<double> w;
  for (int i = 0; i < headDim / 2; ++i) w.push_back(2.0 * M_PI * std::pow(base, 2.0 * i / headDim));
  return w;
}

}  // namespace ll::rt::ana
