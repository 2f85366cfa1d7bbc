// Logit lens (§6) and output entropy (§7) on stories260K against plain loops over the reference
// residual files (RMSNorm with output_norm.weight, then the LM head read from the model file), and
// hand-computed softmax statistics.
#include <algorithm>
#include <cmath>

#include "ana_common.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/stats.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

LL_TEST(rowStatsHand) {
  // p = (1, 2, 3, 2) / 8
  const float lg[4] = {0.0f, std::log(2.0f), std::log(3.0f), std::log(2.0f)};
  RowStats r = rowStats(lg, 4, 3, 3);
  const double p[4] = {1 / 8.0, 2 / 8.0, 3 / 8.0, 2 / 8.0};
  double h = 0;
  for (double x : p) h -= x * std::log(x);
  QVERIFY(std::fabs(r.entropy - h) < 1e-6);
  QCOMPARE(r.topIds, (std::vector<int32_t>{2, 1, 3}));  // tie 1 vs 3 -> lower id first
  QVERIFY(std::fabs(r.topProbs[0] - 0.375f) < 1e-6);
  QCOMPARE(r.rank, 2);
  QVERIFY(std::fabs(r.prob - 0.25f) < 1e-6);
  const float p1[2] = {1.0f, 0.0f}, p2[2] = {0.0f, 1.0f};
  QVERIFY(std::fabs(jsd(p1, p2, 2) - std::log(2.0)) < 1e-12);  // disjoint: ln 2
  QVERIFY(jsd(p1, p1, 2) == 0.0);
}

namespace {

struct Expected {
  std::vector<double> entropy;
  std::vector<int> top1, rank;
};

// Lens of reference hidden rows [T, d] by plain loops.
Expected lensLoops(const std::vector<float>& rows, int T, int d, const std::vector<float>& normW,
                   const std::vector<float>& W, int V, double eps, bool norm, int target) {
  Expected e;
  std::vector<double> x(d), z(V);
  for (int t = 0; t < T; ++t) {
    double ss = 0;
    for (int i = 0; i < d; ++i) ss += double(rows[size_t(t) * d + i]) * rows[size_t(t) * d + i];
    const double inv = norm ? 1.0 / std::sqrt(ss / d + eps) : 1.0;
    for (int i = 0; i < d; ++i) x[i] = rows[size_t(t) * d + i] * inv * (norm ? normW[i] : 1.0);
    double mx = -1e300;
    int arg = 0;
    for (int v = 0; v < V; ++v) {
      z[v] = 0;
      for (int i = 0; i < d; ++i) z[v] += W[size_t(v) * d + i] * x[i];
      if (z[v] > mx) mx = z[v], arg = v;
    }
    double sum = 0, h = 0;
    for (int v = 0; v < V; ++v) sum += std::exp(z[v] - mx);
    for (int v = 0; v < V; ++v) {
      const double p = std::exp(z[v] - mx) / sum;
      if (p > 0) h -= p * std::log(p);
    }
    int rank = 0;
    for (int v = 0; v < V; ++v) rank += z[v] > z[target] ? 1 : 0;
    e.entropy.push_back(h);
    e.top1.push_back(arg);
    e.rank.push_back(rank);
  }
  return e;
}

}  // namespace

LL_TEST(lensAgainstReferenceResiduals) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  const Model& m = s->model();
  const int d = m.spec.nEmbd, V = m.spec.nVocab, Lyr = m.spec.nLayer;
  auto normW = anatest::tensorF32(m, "output_norm.weight");
  auto W = anatest::tensorF32(
      m, m.weights.find("output.weight") ? "output.weight" : "token_embd.weight");
  auto tr = s->run();
  const int T = tr->nTokens, target = 300;
  for (bool norm : {true, false}) {
    LensOptions o;
    o.finalNorm = norm;
    o.target = target;
    LensResult r = logitLens(s->engine(), *tr, o);
    QCOMPARE(r.nRows, Lyr + 1);
    for (int row = 0; row <= Lyr; ++row) {
      auto ref = anatest::ref("stories260K", "park",
                              row == 0 ? "embd.npy" : "resid-" + std::to_string(row - 1) + ".npy");
      Expected e = lensLoops(ref.f32, T, d, normW, W, V, m.spec.normEps, norm, target);
      for (int t = 0; t < T; ++t) {
        const size_t at = size_t(row) * T + t;
        QVERIFY2(std::fabs(r.entropy[at] - e.entropy[t]) < 2e-3,
                 "row " + std::to_string(row) + " token " + std::to_string(t) + ": " +
                     std::to_string(r.entropy[at]) + " vs " + std::to_string(e.entropy[t]));
        QCOMPARE(r.top1[at], e.top1[t]);
        QCOMPARE(r.topIds[at * r.topK], e.top1[t]);
        QCOMPARE(r.rank[at], e.rank[t]);
      }
    }
    // early exit: first row whose top-1 is the model's own top-1 (from the reference logits)
    auto logits = anatest::ref("stories260K", "park", "logits.npy");
    for (int t = 0; t < T; ++t) {
      int fin = int(std::max_element(logits.f32.begin() + size_t(t) * V,
                                     logits.f32.begin() + size_t(t + 1) * V) -
                    (logits.f32.begin() + size_t(t) * V));
      QCOMPARE(r.finalTop1[t], fin);
      int first = -1;
      for (int row = 0; row <= Lyr && first < 0; ++row)
        if (r.top1[size_t(row) * T + t] == fin) first = row;
      QCOMPARE(r.earlyExit[t], first);
    }
    // after-attention points: ΔH splits the layer's change of entropy
    for (int l = 0; l < Lyr; ++l)
      for (int t = 0; t < T; ++t) {
        const size_t m2 = size_t(l) * T + t;
        QVERIFY(std::fabs(r.deltaAttn[m2] + r.deltaMlp[m2] -
                          (r.entropy[size_t(l + 1) * T + t] - r.entropy[size_t(l) * T + t])) <
                1e-5);
      }
  }
  // With the final norm the last row is the model's output distribution.
  LensResult r = logitLens(s->engine(), *tr, {});
  auto logits = anatest::ref("stories260K", "park", "logits.npy");
  for (int t = 0; t < T; ++t) {
    RowStats st = rowStats(logits.f32.data() + size_t(t) * V, V, 1);
    QVERIFY(std::fabs(r.entropy[size_t(Lyr) * T + t] - st.entropy) < 2e-3);
  }
}

LL_TEST(lensMidpointsAgainstLoops) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "once");
  const Model& m = s->model();
  const int d = m.spec.nEmbd, V = m.spec.nVocab;
  auto normW = anatest::tensorF32(m, "output_norm.weight");
  auto W = anatest::tensorF32(
      m, m.weights.find("output.weight") ? "output.weight" : "token_embd.weight");
  auto tr = s->run();
  LensOptions o;
  o.tokens = {tr->nTokens - 1, 1};
  LensResult r = logitLens(s->engine(), *tr, o);
  for (int l = 0; l < tr->nLayer; ++l) {
    std::vector<float> rows;
    for (int t : o.tokens)
      rows.insert(rows.end(), tr->layers[l].residMid.begin() + size_t(t) * d,
                  tr->layers[l].residMid.begin() + size_t(t + 1) * d);
    Expected e = lensLoops(rows, 2, d, normW, W, V, m.spec.normEps, true, 0);
    for (int c = 0; c < 2; ++c) {
      QVERIFY(std::fabs(r.midEntropy[size_t(l) * 2 + c] - e.entropy[c]) < 1e-4);
      QCOMPARE(r.midTop1[size_t(l) * 2 + c], e.top1[c]);
    }
  }
}

// §7 on the two models with the same tokenizer: stories260K (student) and stories260K-moe4.
LL_TEST(outputEntropyForksAndTeacher) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  auto t = anatest::session("stories260K-moe4.gguf", "stories260K-moe4", "park");
  auto ts = s->run(), tt = t->run();
  auto ls = anatest::ref("stories260K", "park", "logits.npy");
  auto lt = anatest::ref("stories260K-moe4", "park", "logits.npy");
  const int T = ts->nTokens, V = ts->nVocab;
  OutputEntropy oe = outputEntropy(*ts);
  TeacherComparison c = compareWithTeacher(*ts, *tt);
  std::vector<double> h(T);
  for (int i = 0; i < T; ++i) {
    std::vector<double> p(V), q(V);
    double mp = -1e300, mq = -1e300, sp = 0, sq = 0;
    for (int v = 0; v < V; ++v)
      mp = std::max(mp, double(ls.f32[size_t(i) * V + v])),
      mq = std::max(mq, double(lt.f32[size_t(i) * V + v]));
    for (int v = 0; v < V; ++v)
      sp += p[v] = std::exp(ls.f32[size_t(i) * V + v] - mp),
            sq += q[v] = std::exp(lt.f32[size_t(i) * V + v] - mq);
    double H = 0, J = 0;
    for (int v = 0; v < V; ++v) {
      p[v] /= sp;
      q[v] /= sq;
      const double mm = 0.5 * (p[v] + q[v]);
      H -= p[v] * std::log(p[v]);
      J += 0.5 * p[v] * std::log(p[v] / mm) + 0.5 * q[v] * std::log(q[v] / mm);
    }
    h[i] = H;
    QVERIFY(std::fabs(oe.entropy[i] - H) < 2e-3);
    QVERIFY(std::fabs(oe.normalized[i] - H / std::log(double(V))) < 1e-3);
    QVERIFY2(std::fabs(c.jsdBits[i] - J / std::log(2.0)) < 1e-3, std::to_string(i));
    const bool hiH = c.normalized[i] > c.entropyThreshold, hiD = c.jsdBits[i] > c.jsdThreshold;
    QVERIFY((c.quadrant[i] == Quadrant::Overconfident) == (!hiH && hiD));
  }
  auto forks = forkTokens(*ts, 3);
  QCOMPARE(forks.size(), size_t(3));
  std::vector<int> order(T);
  for (int i = 0; i < T; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return h[a] > h[b]; });
  for (int i = 0; i < 3; ++i) {
    QCOMPARE(forks[i].index, order[i]);
    QCOMPARE(forks[i].topIds.size(), size_t(5));
  }
}

LL_TEST_MAIN("tst_lens")
