// Routing statistics and router interventions (§9) on stories260K-moe4 against plain loops over the
// reference router/experts/expert_weights files; ban, force and λ·std(z) soft promotion.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ana_common.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/analysis/stats.h"
#include "runtime/engine/routing.h"

using namespace ll::rt;
using namespace ll::rt::ana;

LL_TEST(matricesAgainstReference) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K-moe4.gguf", "stories260K-moe4", "park");
  auto tr = s->run();
  const int T = tr->nTokens, E = tr->nExpert, k = tr->nExpertUsed;
  QCOMPARE(moeLayers(*tr).size(), size_t(tr->nLayer));
  auto load = expertLoad(*tr);
  for (int l = 0; l < tr->nLayer; ++l) {
    auto ex = anatest::ref("stories260K-moe4", "park", "experts-" + std::to_string(l) + ".npy");
    auto w =
        anatest::ref("stories260K-moe4", "park", "expert_weights-" + std::to_string(l) + ".npy");
    std::vector<double> want(size_t(T) * E, 0.0), cnt(E, 0.0);
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < k; ++j) {
        want[size_t(t) * E + ex.i32[size_t(t) * k + j]] += w.f32[size_t(t) * k + j];
        cnt[ex.i32[size_t(t) * k + j]] += 1.0 / T;
      }
    auto got = tokenExpertMatrix(*tr, l);
    for (size_t i = 0; i < want.size(); ++i) QVERIFY(std::fabs(got[i] - want[i]) < 1e-4);
    for (int e = 0; e < E; ++e) QVERIFY(std::fabs(load[size_t(l) * E + e] - cnt[e]) < 1e-6);
  }
  auto lm = layerExpertMatrix(*tr, 5);
  auto t1 = tokenExpertMatrix(*tr, 1);
  for (int e = 0; e < E; ++e) QCOMPARE(lm[size_t(1) * E + e], t1[size_t(5) * E + e]);
  // experts per token at coverage 1.0 = every expert with non-zero probability
  auto ept = expertsPerToken(*tr, 0.0f);
  QVERIFY(std::all_of(ept.begin(), ept.end(), [](int n) { return n == 0; }));
  ept = expertsPerToken(*tr, 0.9f);
  QVERIFY(std::all_of(ept.begin(), ept.end(), [&](int n) { return n >= 1 && n <= E; }));
}

LL_TEST(jsdBetweenPrompts) {
  LL_REQUIRE_SHARED();
  auto a = anatest::session("stories260K-moe4.gguf", "stories260K-moe4", "park");
  auto b = anatest::session("stories260K-moe4.gguf", "stories260K-moe4", "once");
  auto ta = a->run(), tb = b->run();
  const int E = ta->nExpert, k = ta->nExpertUsed;
  auto got = routingJsd(*ta, *tb);
  for (int l = 0; l < ta->nLayer; ++l) {
    auto dist = [&](const char* prompt) {
      auto ex = anatest::ref("stories260K-moe4", prompt, "experts-" + std::to_string(l) + ".npy");
      auto w =
          anatest::ref("stories260K-moe4", prompt, "expert_weights-" + std::to_string(l) + ".npy");
      std::vector<double> m(E, 0.0);
      double tot = 0;
      for (size_t i = 0; i < ex.i32.size(); ++i) m[ex.i32[i]] += w.f32[i], tot += w.f32[i];
      for (double& x : m) x /= tot;
      return m;
    };
    auto p = dist("park"), q = dist("once");
    double j = 0;
    for (int e = 0; e < E; ++e) {
      const double mm = 0.5 * (p[e] + q[e]);
      if (p[e] > 0) j += 0.5 * p[e] * std::log(p[e] / mm);
      if (q[e] > 0) j += 0.5 * q[e] * std::log(q[e] / mm);
    }
    QVERIFY2(std::fabs(got[l] - j) < 1e-5, std::to_string(l));
  }
  QVERIFY(routingJsd(*ta, *ta)[0] == 0.0f);
  (void)k;
}

LL_TEST(banForceAndSoftPromotion) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K-moe4.gguf", "stories260K-moe4", "park");
  auto base = s->run();
  const int E = base->nExpert, k = base->nExpertUsed, T = base->nTokens, L = base->nLayer;
  // the expert used most in layer 2 is switched off everywhere: never chosen
  auto load = expertLoad(*base);
  const int victim =
      int(std::max_element(load.begin() + 2 * E, load.begin() + 3 * E) - (load.begin() + 2 * E));
  QVERIFY(load[2 * E + victim] > 0);
  std::vector<std::pair<int, int>> all;
  for (int l = 0; l < L; ++l) all.emplace_back(l, victim);
  RunRequest rq;
  rq.interventions.router = switchOff(all);
  auto off = s->run(rq);
  for (int l = 0; l < L; ++l) {
    for (int i = 0; i < T * k; ++i) QVERIFY(off->layers[l].experts[i] != victim);
    for (int t = 0; t < T; ++t) QCOMPARE(off->layers[l].routerProbs[size_t(t) * E + victim], 0.0f);
  }
  // force: the forced expert is chosen by every token of that layer
  const int forced = (victim + 1) % E;
  rq.interventions.router = hardForce({{1, forced}});
  auto fo = s->run(rq);
  for (int t = 0; t < T; ++t) QCOMPARE(fo->layers[1].experts[size_t(t) * k], forced);
  QVERIFY(overForcedLayers(hardForce({{1, 0}, {1, 1}, {1, 2}}), k) == std::vector<int>{1});
  QVERIFY(overForcedLayers(hardForce({{1, 0}, {1, 1}}), k).empty());

  // soft promotion: z_e += λ·std(z) (unbiased std over the token's logits), checked by hand
  float z[4] = {1, 2, 3, 4};
  applyRouterEdits(z, 4, 0, softPromotion({{0, 1}}, 0.5f));
  const double sd = std::sqrt((2.25 + 0.25 + 0.25 + 2.25) / 3.0);
  QVERIFY(std::fabs(z[1] - (2 + 0.5 * sd)) < 1e-6 && z[0] == 1 && z[3] == 4);
  // and in the model: the promoted expert's probability rises at every token of the layer
  rq.interventions.router = softPromotion({{3, forced}}, 0.5f);
  auto sp = s->run(rq);
  for (int t = 0; t < T; ++t) {
    const float* zz = base->layers[3].routerLogits.data() + size_t(t) * E;
    double m = 0, v = 0;
    for (int e = 0; e < E; ++e) m += zz[e] / E;
    for (int e = 0; e < E; ++e) v += (zz[e] - m) * (zz[e] - m) / (E - 1);
    std::vector<float> edited(zz, zz + E);
    edited[forced] += static_cast<float>(0.5 * std::sqrt(v));
    auto p = softmax(edited.data(), E);
    QVERIFY(std::fabs(sp->layers[3].routerProbs[size_t(t) * E + forced] - p[forced]) < 1e-4);
  }
}

// Switching off every expert of a layer leaves softmax nothing to normalise: a clear error naming
// the layer, never NaN routing weights; the session stays usable and exact afterwards.
LL_TEST(banEveryExpertIsAnError) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K-moe4.gguf", "stories260K-moe4", "park");
  auto base = s->run();
  const int E = base->nExpert;
  std::vector<std::pair<int, int>> all;
  for (int e = 0; e < E; ++e) all.emplace_back(3, e);
  RunRequest rq;
  rq.interventions.router = switchOff(all);
  std::string msg;
  try {
    s->run(rq);
  } catch (const std::invalid_argument& e) {
    msg = e.what();
  }
  QVERIFY2(msg.find("layer 3") != std::string::npos && msg.find("no expert") != std::string::npos,
           "message: " + msg);
  // All but one is fine: every token of that layer uses the one left, with weight 1 when the
  // model renormalises.
  all.pop_back();
  rq.interventions.router = switchOff(all);
  auto one = s->run(rq);
  for (int t = 0; t < one->nTokens; ++t) {
    QCOMPARE(one->layers[3].experts[size_t(t) * one->nExpertUsed], E - 1);
    for (int j = 0; j < one->nExpertUsed; ++j)
      QVERIFY(std::isfinite(one->layers[3].expertWeights[size_t(t) * one->nExpertUsed + j]));
  }
  const auto again = s->run();
  QVERIFY(again->logits == base->logits);
  // The routing functions on their own.
  float z[3] = {0.5f, 1.0f, 2.0f};
  bool threw = false;
  try {
    applyRouterEdits(z, 3, 7, switchOff({{7, 0}, {7, 1}, {7, 2}}));
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("layer 7") != std::string::npos;
  }
  QVERIFY(threw);
  const float inf = std::numeric_limits<float>::infinity();
  const float dead[2] = {-inf, -inf};
  threw = false;
  try {
    route(dead, 1, 2, 1, true);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY(threw);
}

LL_TEST(expertPicker) {
  // Δ = task - neutral > τ
  std::vector<float> task{0.5f, 0.1f, 0.4f, 0.9f, 0.0f, 0.1f},
      neutral{0.2f, 0.1f, 0.5f, 0.3f, 0.0f, 0.2f};
  auto p = pickExperts(task, neutral, 2, 3, 0.25f);
  QCOMPARE(p.size(), size_t(2));
  QVERIFY(p[0] == std::make_pair(0, 0) && p[1] == std::make_pair(1, 0));
  QVERIFY(pickExperts(task, neutral, 2, 3, 0.25f, {1}).size() == 1);
  QCOMPARE(middleLayers(24), (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
}

LL_TEST_MAIN("tst_routing")
