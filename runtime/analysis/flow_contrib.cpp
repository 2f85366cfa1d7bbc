// Per-destination contributions, threshold and pruning of information-flow routes (§14).
//
// Why the pruning keeps the result exact. For a destination the parts are the residual x and the
// sources' z_j; c_k = max(0, ||y||_1 - ||y - z_k||_1) <= ||z_k||_1 (triangle inequality) and
// ||z_j||_1 <= sum_h a_h[j] ||U_h[j]||_1; and with s = sign(y), |y_k - z_k| >= |y_k| - s_k z_k
// gives c_j <= max(0, s . z_j) = max(0, sum_h a_h[j] (s . U_h[j])), equal to c_j whenever no
// component of z_j overshoots y's (small parts). B_j is the smaller of the two. Let S_E be the sum
// of the contributions computed so far (the residual and the evaluated sources) and R the sum of
// the bounds of the others: the true normaliser S lies in [S_E, S_E + R]. Sources are evaluated in
// descending bound order while B_j >= tau * S_E, so every unevaluated source has c_j <= B_j < tau *
// S_E <= tau * S and is dropped, as it would be unpruned. An evaluated part is decided when c >=
// tau * (S_E + R) (kept) or c < tau * S_E (dropped); while some part lies in between, more of the
// remaining sources are evaluated (doubling), down to all of them if need be. Kept weights are c /
// sum(kept c), which no longer involves S. So the pruned graph equals the exhaustive one; pruning
// only saves work.
#include "runtime/analysis/flow_contrib.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ll::rt::ana::flow {

namespace {

// Bounds are computed in float from float norms: a small margin keeps them upper bounds of the
// contributions computed from the same floats.
constexpr double kBoundMargin = 1.0 + 1e-4;

// c of source j: z = sum_h a_h[j] U_h[j] into sc.z.
double sourceContribution(const AttnDestination& in, int j, DestScratch& sc) {
  float* z = sc.z.data();
  std::fill(z, z + in.d, 0.0f);
  for (int h = 0; h < in.nHead; ++h) {
    const float a = in.attn[h][j];
    if (a == 0.0f) continue;
    const float* u = in.values + (size_t(j) * in.nHead + h) * in.d;
    for (int k = 0; k < in.d; ++k) z[k] += a * u[k];
  }
  return l1Contribution(in.y, z, in.d);
}

}  // namespace

double l1Contribution(const float* y, const float* z, int d) {
  // sum_k |y_k| - |y_k - z_k| (= ||y||_1 - ||y - z||_1): small where z is, so float terms lose
  // little; 16 float lanes per block of 256 (vectorised), blocks summed in double.
  constexpr int kLanes = 16, kBlock = 256;
  double total = 0;
  for (int b0 = 0; b0 < d; b0 += kBlock) {
    const int b1 = std::min(d, b0 + kBlock);
    float acc[kLanes] = {};
    int k = b0;
    for (; k + kLanes <= b1; k += kLanes)
      for (int m = 0; m < kLanes; ++m)
        acc[m] += std::fabs(y[k + m]) - std::fabs(y[k + m] - z[k + m]);
    double blockSum = 0;
    for (; k < b1; ++k) blockSum += std::fabs(y[k]) - std::fabs(y[k] - z[k]);
    for (float v : acc) blockSum += v;
    total += blockSum;
  }
  return std::max(0.0, total);
}

void keepParts(const std::vector<double>& c, const std::vector<int>& ids, double tau,
               std::vector<KeptPart>& out) {
  out.clear();
  const double sum = std::accumulate(c.begin(), c.end(), 0.0);
  if (sum <= 0) {
    if (tau <= 0)
      for (size_t k = 0; k < c.size(); ++k) out.emplace_back(ids[k], 0.0);
    return;
  }
  double kept = 0;
  for (size_t k = 0; k < c.size(); ++k)
    if (c[k] >= tau * sum) {
      out.emplace_back(ids[k], c[k]);
      kept += c[k];
    }
  for (KeptPart& p : out) p.second = kept > 0 ? p.second / kept : 0.0;
}

int attentionDestination(const AttnDestination& in, double tau, bool prune, DestScratch& sc,
                         std::vector<KeptPart>& out) {
  const int n = in.nSrc;
  sc.z.resize(size_t(in.d));
  sc.contrib.assign(size_t(n), 0.0);
  sc.done.assign(size_t(n), 0);
  const double cRes = l1Contribution(in.y, in.x, in.d);
  double sumE = cRes;
  int evaluated = 0;
  auto evaluate = [&](int j) {
    sc.contrib[size_t(j)] = sourceContribution(in, j, sc);
    sc.done[size_t(j)] = 1;
    sumE += sc.contrib[size_t(j)];
    ++evaluated;
  };
  if (!prune || tau <= 0) {
    for (int j = 0; j < n; ++j) evaluate(j);
  } else {
    sc.bound.resize(size_t(n));
    double rest = 0;  // R: bounds of the unevaluated sources
    std::fill(sc.bound.begin(), sc.bound.end(), 0.0);
    sc.linear.assign(size_t(n), 0.0);
    for (int h = 0; h < in.nHead; ++h) {
      const float* a = in.attn[h];
      const float* nrm = in.valueNorms + size_t(h) * in.nTokens;
      for (int j = 0; j < n; ++j) sc.bound[size_t(j)] += double(a[j]) * nrm[j];
      if (in.linear) {
        const float* lin = in.linear[h];
        for (int j = 0; j < n; ++j) sc.linear[size_t(j)] += double(a[j]) * lin[j];
      }
    }
    for (int j = 0; j < n; ++j) {
      double& b = sc.bound[size_t(j)];
      // The linear bound comes from other float products than c: a margin of 1e-4 of the norm
      // bound covers their rounding.
      if (in.linear) b = std::min(b, std::max(0.0, sc.linear[size_t(j)]) + 1e-4 * b);
      b *= kBoundMargin;
      rest += b;
    }
    // Candidates first: a source below tau * cRes can never reach tau * S (S >= cRes).
    sc.order.clear();
    for (int j = 0; j < n; ++j)
      if (sc.bound[size_t(j)] >= tau * cRes) sc.order.push_back(j);
    auto byBound = [&](int a, int b) { return sc.bound[size_t(a)] > sc.bound[size_t(b)]; };
    std::sort(sc.order.begin(), sc.order.end(), byBound);
    size_t k = 0;
    for (; k < sc.order.size() && sc.bound[size_t(sc.order[k])] >= tau * sumE; ++k) {
      rest -= sc.bound[size_t(sc.order[k])];
      evaluate(sc.order[k]);
    }
    // Resolve parts whose side of the threshold depends on the unevaluated sources.
    bool fullOrder = sc.order.size() == size_t(n);
    for (;;) {
      if (k == size_t(n)) break;
      rest = std::max(0.0, rest);
      auto undecided = [&](double c) { return c >= tau * sumE && c < tau * (sumE + rest); };
      bool open = undecided(cRes);
      for (int j = 0; j < n && !open; ++j)
        open = sc.done[size_t(j)] && undecided(sc.contrib[size_t(j)]);
      if (!open) break;
      if (!fullOrder) {  // the rest in bound order after the candidates already taken
        std::vector<int> tail;
        for (int j = 0; j < n; ++j)
          if (!sc.done[size_t(j)]) tail.push_back(j);
        std::sort(tail.begin(), tail.end(), byBound);
        sc.order.resize(k);
        sc.order.insert(sc.order.end(), tail.begin(), tail.end());
        fullOrder = true;
      }
      const size_t stop = std::min(size_t(n), k + std::max<size_t>(8, k));
      for (; k < stop; ++k) {
        const int j = sc.order[k];
        if (sc.done[size_t(j)]) continue;
        rest -= sc.bound[size_t(j)];
        evaluate(j);
      }
      if (k == size_t(n)) rest = 0;
    }
  }
  // Unevaluated sources are below the threshold; their c is taken as 0 (dropped either way).
  std::vector<double> c;
  std::vector<int> ids;
  c.reserve(size_t(evaluated) + 1);
  c.push_back(cRes);
  ids.push_back(-1);
  for (int j = 0; j < n; ++j)
    if (sc.done[size_t(j)]) {
      c.push_back(sc.contrib[size_t(j)]);
      ids.push_back(j);
    }
  // keepParts divides by S_E: it differs from the true S only by sources below tau either way
  // and no evaluated part is undecided, so the kept set and weights are the exhaustive ones.
  keepParts(c, ids, tau, out);
  return evaluated;
}

}  // namespace ll::rt::ana::flow
