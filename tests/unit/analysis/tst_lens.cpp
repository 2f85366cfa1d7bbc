// Logit lens (§6) and output entropy (§7) on stories260K against plain loops over the reference
// residual files (RMSNorm with output_norm.weight, then the LM head read from the model file), and
// hand-computed softmax statistics.
#include <algorithm>
#include <cmath>

#include "ana_common.h"
#include "kernels/backends.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/stats.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

// A CPU backend that records the row count of every matmul on the LM head weight.
class CountingBackend final : public ll::kern::Backend {
 public:
  CountingBackend() : m_b(ll::kern::makeCpuBackend(2)) {}
  std::vector<int> headRows;  // n of each LM-head matmul
  std::string head;
  std::string name() const override { return "counting-cpu"; }
  std::string deviceDescription() const override { return m_b->deviceDescription(); }
  void* alloc(size_t n) override { return m_b->alloc(n); }
  void free(void* p) override { m_b->free(p); }
  void upload(void* d, const void* s, size_t n) override { m_b->upload(d, s, n); }
  void download(void* d, const void* s, size_t n) override { m_b->download(d, s, n); }
  void copy(void* d, const void* s, size_t n) override { m_b->copy(d, s, n); }
  void fill(float* d, float v, size_t n) override { m_b->fill(d, v, n); }
  void sync() override { m_b->sync(); }
  size_t freeMemory() const override { return m_b->freeMemory(); }
  std::unique_ptr<ll::kern::Weight> loadWeight(const ll::kern::WeightDesc& d) override {
    return m_b->loadWeight(d);
  }
  const float* vectorData(const ll::kern::Weight& w) override { return m_b->vectorData(w); }
  void matmul(const ll::kern::Weight& w, const float* x, float* y, int n) override {
    if (w.name == head) headRows.push_back(n);
    m_b->matmul(w, x, y, n);
  }
  void getRows(const ll::kern::Weight& w, const int32_t* ids, int n, float* out) override {
    m_b->getRows(w, ids, n, out);
  }
  void rmsNorm(const float* x, const float* w, float* y, int n, int dim, float eps) override {
    m_b->rmsNorm(x, w, y, n, dim, eps);
  }
  void layerNorm(const float* x, const float* w, const float* b, float* y, int n, int dim,
                 float eps) override {
    m_b->layerNorm(x, w, b, y, n, dim, eps);
  }
  void rope(float* x, const int32_t* pos, int n, int nHead, int headDim,
            const ll::kern::RopeParams& p) override {
    m_b->rope(x, pos, n, nHead, headDim, p);
  }
  void attention(const ll::kern::AttnArgs& a) override { m_b->attention(a); }
  void attentionMap(const ll::kern::AttnArgs& a, int head, float* out) override {
    m_b->attentionMap(a, head, out);
  }
  void addBias(float* x, const float* b, int n, int dim) override { m_b->addBias(x, b, n, dim); }
  void add(const float* a, const float* b, float* y, size_t n) override { m_b->add(a, b, y, n); }
  void addRowVector(float* x, const float* v, float alpha, int r0, int n, int dim) override {
    m_b->addRowVector(x, v, alpha, r0, n, dim);
  }
  void swiglu(const float* g, const float* u, float* y, size_t n) override {
    m_b->swiglu(g, u, y, n);
  }
  void gelu(float* x, size_t n) override { m_b->gelu(x, n); }
  void glu(ll::kern::Glu k, const float* g, const float* u, float* y, size_t n) override {
    m_b->glu(k, g, u, y, n);
  }
  void softcap(float* x, float c, size_t n) override { m_b->softcap(x, c, n); }
  void scaleRows(float* x, const float* s, int n, int dim) override {
    m_b->scaleRows(x, s, n, dim);
  }
  void sigmoid(float* x, size_t n) override { m_b->sigmoid(x, n); }
  void gatherRows(const float* s, const int32_t* i, int n, int dim, float* d) override {
    m_b->gatherRows(s, i, n, dim, d);
  }
  void scatterAddRows(const float* s, const int32_t* i, const float* w, int n, int dim,
                      float* d) override {
    m_b->scatterAddRows(s, i, w, n, dim, d);
  }

 private:
  std::unique_ptr<ll::kern::Backend> m_b;
};

}  // namespace

// The lens for one token across all layers is ONE product with the LM head (its weight read once),
// not one per layer; the after-attention points join the same product.
LL_TEST(lensOneTokenIsOneHeadProduct) {
  LL_REQUIRE_SHARED();
  auto m = anatest::model("stories260K.gguf");
  CountingBackend b;
  b.head = m->weights.find("output.weight") ? "output.weight" : "token_embd.weight";
  Engine e(*m, b);
  const auto ids = anatest::refIds("stories260K", "park");
  std::vector<int32_t> pos(ids.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = int32_t(i);
  auto tr = e.run(ids, pos, {}, CaptureOptions{true, false});
  const int L = m->spec.nLayer;
  LensOptions o;
  o.tokens = {int(ids.size()) - 1};
  o.mid = false;
  b.headRows.clear();
  const LensResult one = logitLens(e, *tr, o);
  QCOMPARE(b.headRows, (std::vector<int>{L + 1}));
  o.mid = true;
  b.headRows.clear();
  logitLens(e, *tr, o);
  QCOMPARE(b.headRows, (std::vector<int>{2 * L + 1}));
  // The last row of the lens is the model's own prediction.
  QCOMPARE(one.top1[size_t(L)], one.finalTop1[0]);
}

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
  std::vector<double> top1Prob;
  std::vector<std::vector<int>> top5;         // per row: the five most probable ids, descending
  std::vector<std::vector<double>> top5Prob;  // their probabilities
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
    e.top1Prob.push_back(1.0 / sum);
    std::vector<int> order(V);
    for (int v = 0; v < V; ++v) order[v] = v;
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [&](int a, int b) { return z[a] > z[b] || (z[a] == z[b] && a < b); });
    order.resize(5);
    std::vector<double> p5;
    for (int v : order) p5.push_back(std::exp(z[v] - mx) / sum);
    e.top5.push_back(order);
    e.top5Prob.push_back(p5);
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
      // The mid points carry top-k like the rows (the app's lens grid shows them): the first is
      // the top-1, the probabilities are the loops' softmax, descending.
      const size_t at = (size_t(l) * 2 + c) * size_t(r.topK);
      QCOMPARE(r.midTopIds[at], e.top1[c]);
      QVERIFY(std::fabs(r.midTopProbs[at] - e.top1Prob[c]) < 1e-4);
      QCOMPARE(r.topK, 5);
      for (int k = 1; k < r.topK; ++k) {
        QCOMPARE(r.midTopIds[at + k], e.top5[c][size_t(k)]);
        QVERIFY(std::fabs(r.midTopProbs[at + k] - e.top5Prob[c][size_t(k)]) < 1e-4);
      }
    }
  }
  QCOMPARE(r.midTopIds.size(), size_t(tr->nLayer) * 2 * size_t(r.topK));
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
