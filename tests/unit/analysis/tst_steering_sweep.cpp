// Steering readouts (§8) on stories260K and stories260K-moe4 against a plain computation: each
// alpha and each layer as a fresh full run with an explicit Steering intervention, KL and entropy
// written out here in double; the sweep's passes reuse the rows before fromPos; a position before
// fromPos is unchanged; bad input and cancellation.
#include <cmath>

#include "ana_common.h"
#include "runtime/analysis/steering.h"
#include "runtime/analysis/steering_sweep.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

struct Plain {
  double kl = 0, entropy = 0;
  int top1 = 0;
};

// KL(softmax(a) || softmax(b)) and the entropy of softmax(a), plain double loops.
Plain plainReadout(const float* a, const float* b, int n) {
  double ma = -1e300, mb = -1e300;
  for (int i = 0; i < n; ++i) ma = std::max(ma, double(a[i])), mb = std::max(mb, double(b[i]));
  double za = 0, zb = 0;
  for (int i = 0; i < n; ++i) za += std::exp(a[i] - ma), zb += std::exp(b[i] - mb);
  Plain r;
  for (int i = 0; i < n; ++i) {
    const double p = std::exp(a[i] - ma) / za, q = std::exp(b[i] - mb) / zb;
    if (p > 0) r.kl += p * std::log(p / q), r.entropy -= p * std::log(p);
    if (a[i] > a[r.top1]) r.top1 = i;
  }
  return r;
}

// A fresh session (nothing cached) and one full run with all logits, steered at (layer, alpha).
Plain fullRun(const std::string& file, const std::vector<int32_t>& ids, const float* base0, int P,
              int layer, float alpha, int from, const std::vector<float>& v) {
  auto s = std::make_unique<Session>();
  BackendChoice b;
  b.threads = 2;
  s->attach(anatest::model(file), b);
  s->setPromptIds(ids);
  RunRequest rq;
  rq.interventions.steering.push_back({layer, alpha, from, v});
  auto tr = s->run(rq);
  return plainReadout(tr->logitsRow(P), base0, tr->nVocab);
}

// A direction from the stream itself (two tokens' residuals after `layer`), so that the steered
// distribution moves visibly at moderate alpha.
std::vector<float> directionOf(const Trace& tr, int layer) {
  const float* a = residAfter(tr, layer, tr.nTokens - 1);
  const float* b = residAfter(tr, layer, 1);
  std::vector<float> v(size_t(tr.nEmbd));
  for (int i = 0; i < tr.nEmbd; ++i) v[i] = a[i] - b[i];
  return v;
}

bool close(double a, double b) {
  return std::fabs(a - b) <= 2e-5 + 2e-3 * std::fabs(b);
}

void checkAgainstFullRuns(const std::string& file, const std::string& ref) {
  const auto ids = anatest::refIds(ref, "park");
  auto s = anatest::session(file, ref, "park");
  auto base = s->run();
  const int T = base->nTokens, V = base->nVocab, L = base->nLayer, P = T - 2, from = 3;
  const std::vector<float> v = directionOf(*base, 1);
  SteeringSweepRequest rq;
  rq.layer = 1;
  rq.alpha = 2.5f;
  rq.fromPos = from;
  rq.position = P;
  const SteeringSweepResult r = steeringSweep(*s, *base, v, rq);
  QCOMPARE(r.position, P);
  QVERIFY(r.reaches);
  QCOMPARE(r.alphas, defaultSweepAlphas(2.5f));
  QCOMPARE(r.alphas.size(), size_t(13));
  QCOMPARE(r.alphas.front(), 0.0f);
  QVERIFY(std::fabs(r.alphas[1] - 0.2f) < 1e-6 && std::fabs(r.alphas.back() - 16.0f) < 1e-5);
  const float* b0 = base->logitsRow(P);
  const Plain unsteered = plainReadout(b0, b0, V);
  QVERIFY(close(r.entropyBase, unsteered.entropy));
  QCOMPARE(r.top1Base, unsteered.top1);
  double maxKl = 0;
  for (size_t i = 0; i < r.alphas.size(); ++i) {
    const Plain x = fullRun(file, ids, b0, P, 1, r.alphas[i], from, v);
    QVERIFY2(close(r.kl[i], x.kl) && close(r.entropy[i], x.entropy),
             (file + " alpha " + std::to_string(r.alphas[i]) + ": kl " + std::to_string(r.kl[i]) +
              " vs " + std::to_string(x.kl) + ", H " + std::to_string(r.entropy[i]) + " vs " +
              std::to_string(x.entropy))
                 .c_str());
    QCOMPARE(r.top1[i], x.top1);
    maxKl = std::max(maxKl, x.kl);
  }
  QVERIFY2(maxKl > 1e-2, std::to_string(maxKl).c_str());  // the sweep is not 0 against 0
  QCOMPARE(static_cast<int>(r.layerKl.size()), L);
  for (int l = 0; l < L; ++l) {
    const Plain x = fullRun(file, ids, b0, P, l, rq.alpha, from, v);
    QVERIFY2(close(r.layerKl[l], x.kl) && close(r.layerEntropy[l], x.entropy),
             (file + " layer " + std::to_string(l)).c_str());
    QCOMPARE(r.layerTop1[l], x.top1);
    QVERIFY(std::fabs(r.pushRatio[l] - pushRatio(*base, l, v, rq.alpha)) < 1e-12);
  }
  // Every steered pass took the rows before fromPos from the cache.
  const int passes = static_cast<int>(r.alphas.size()) - 1 + L;
  QVERIFY2(r.reusedRows >= passes * (from - 1), std::to_string(r.reusedRows).c_str());
}

}  // namespace

LL_TEST(sweepMatchesFullRunsDense) {
  LL_REQUIRE_SHARED();
  checkAgainstFullRuns("stories260K.gguf", "stories260K");
}

LL_TEST(sweepMatchesFullRunsMoe) {
  LL_REQUIRE_SHARED();
  checkAgainstFullRuns("stories260K-moe4.gguf", "stories260K-moe4");
}

// Before fromPos nothing is steered; a negative alpha sweeps the negative side; the passes stop
// when asked; bad input is an error, not a crash.
LL_TEST(positionBeforeStartNegativeSideCancelAndBadInput) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  auto base = s->run();
  const int T = base->nTokens;
  const std::vector<float> v = directionOf(*base, 2);
  SteeringSweepRequest early;
  early.fromPos = 5;
  early.position = 3;
  const SteeringSweepResult e = steeringSweep(*s, *base, v, early);
  QVERIFY(!e.reaches);
  for (double kl : e.kl) QVERIFY(kl < 1e-12);
  for (double kl : e.layerKl) QVERIFY(kl < 1e-12);

  const auto neg = defaultSweepAlphas(-3.0f);
  QCOMPARE(neg.front(), 0.0f);
  for (size_t i = 1; i < neg.size(); ++i) QVERIFY(neg[i] < 0 && neg[i] < neg[i - 1]);

  int calls = 0;
  bool cancelled = false;
  try {
    steeringSweep(*s, *base, v, {}, [&](int done, int) { return ++calls < 3 && done < 2; });
  } catch (const Cancelled&) {
    cancelled = true;
  }
  QVERIFY(cancelled);

  auto throws = [&](const std::vector<float>& vec, SteeringSweepRequest rq) {
    try {
      steeringSweep(*s, *base, vec, rq);
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  SteeringSweepRequest badPos;
  badPos.position = T;
  QVERIFY(throws(v, badPos));
  SteeringSweepRequest badLayer;
  badLayer.layer = base->nLayer;
  QVERIFY(throws(v, badLayer));
  QVERIFY(throws(std::vector<float>(3, 1.0f), {}));
  SteeringSweepRequest nan;
  nan.alphas = {0.0f, NAN};
  QVERIFY(throws(v, nan));
  // Without all logits only the last position can be read.
  auto last = s->engine().run(base->ids, base->positions, {}, CaptureOptions{true, false});
  SteeringSweepRequest notLast;
  notLast.position = 1;
  bool threw = false;
  try {
    steeringSweep(*s, *last, v, notLast);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY(threw);
  const SteeringSweepResult atLast = steeringSweep(*s, *last, v, {});
  QCOMPARE(atLast.position, T - 1);
  const auto j = steeringSweepJson(atLast);
  QCOMPARE(j["kl"].size(), atLast.alphas.size());
  QCOMPARE(j["layer_kl"].size(), size_t(base->nLayer));
}

LL_TEST_MAIN("tst_steering_sweep")
