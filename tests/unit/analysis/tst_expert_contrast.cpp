// Expert contrast (§9) on the MoE fixtures against a plain computation: every prompt run on its own
// Session, each expert's frequency counted by loops over the trace's chosen experts, averaged per
// set, Δ and the Δ > τ picks redone by hand; the one-click edits, bad requests and cancelling.
#include <algorithm>
#include <cmath>

#include "ana_common.h"
#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

const std::vector<std::string> kTask = {"Once upon a time there was a little girl named Lily.",
                                        "She liked to play with her toys in the park.", "   "};
const std::vector<std::string> kNeutral = {"The sun was hot and the sky was blue.",
                                           "Tom had a big red ball"};

// Plain: fraction of each prompt's tokens that chose expert e in layer l, averaged over prompts.
std::vector<double> plainFreq(const std::string& file, const std::vector<std::string>& prompts,
                              int* nRun) {
  std::vector<double> acc;
  int n = 0;
  for (const auto& p : prompts) {
    if (p.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines are ignored
    auto s = anatest::session(file, "", "");
    s->setPrompt(p);
    auto tr = s->run();
    const int L = tr->nLayer, E = tr->nExpert, k = tr->nExpertUsed, T = tr->nTokens;
    acc.resize(size_t(L) * E, 0.0);
    for (int l = 0; l < L; ++l) {
      if (tr->layers[l].experts.empty()) continue;
      for (int t = 0; t < T; ++t)
        for (int j = 0; j < k; ++j)
          acc[size_t(l) * E + tr->layers[l].experts[size_t(t) * k + j]] += 1.0 / T;
    }
    ++n;
  }
  for (double& v : acc) v /= n;
  *nRun = n;
  return acc;
}

void checkModel(const std::string& file, float tau) {
  int nTask = 0, nNeutral = 0;
  const auto ft = plainFreq(file, kTask, &nTask), fn = plainFreq(file, kNeutral, &nNeutral);
  auto s = anatest::session(file, "", "");
  ExpertContrastRequest rq;
  rq.task = kTask;
  rq.neutral = kNeutral;
  rq.tau = tau;
  std::vector<std::pair<int, int>> calls;
  const auto r = expertContrast(*s, rq, [&](int done, int total) {
    calls.emplace_back(done, total);
    return true;
  });
  QCOMPARE(r.nTask, nTask);
  QCOMPARE(r.nNeutral, nNeutral);
  QCOMPARE(calls.size(), size_t(nTask + nNeutral));
  QVERIFY(calls.back() == std::make_pair(nTask + nNeutral, nTask + nNeutral));
  const int L = r.nLayer, E = r.nExpert;
  QCOMPARE(r.delta.size(), size_t(L) * E);
  double maxDiff = 0;
  std::vector<std::pair<int, int>> want;
  for (int l = 0; l < L; ++l)
    for (int e = 0; e < E; ++e) {
      const size_t i = size_t(l) * E + e;
      maxDiff =
          std::max({maxDiff, std::fabs(r.taskFreq[i] - ft[i]), std::fabs(r.neutralFreq[i] - fn[i]),
                    std::fabs(r.delta[i] - (ft[i] - fn[i]))});
      if (ft[i] - fn[i] > tau) want.emplace_back(l, e);
    }
  QVERIFY2(maxDiff < 1e-6, file + ": max difference " + std::to_string(maxDiff));
  QVERIFY2(r.picked == want, file + ": picked experts differ from the plain Δ > τ");
  QVERIFY2(!want.empty(), file + ": the sets route alike; pick a smaller τ");

  // The one-click edits: exactly one per picked expert (soft promotion: middle layers only).
  const auto off = contrastEdits(r, ContrastAction::SwitchOff);
  QCOMPARE(off.size(), want.size());
  for (size_t i = 0; i < off.size(); ++i) {
    QCOMPARE(off[i].layer, want[i].first);
    QCOMPARE(off[i].expert, want[i].second);
    QVERIFY(off[i].kind == RouterEditKind::Ban);
  }
  const auto force = contrastEdits(r, ContrastAction::HardForce);
  QCOMPARE(force.size(), want.size());
  QVERIFY(std::all_of(force.begin(), force.end(),
                      [](const RouterEdit& e) { return e.kind == RouterEditKind::Force; }));
  const auto mid = middleLayers(L);
  size_t nMid = 0;
  for (auto [l, e] : want) nMid += std::count(mid.begin(), mid.end(), l);
  auto promo = contrastEdits(r, ContrastAction::SoftPromotion);
  QCOMPARE(promo.size(), nMid);
  for (const auto& e : promo) {
    QVERIFY(e.kind == RouterEditKind::BiasStd && e.value == 0.5f);
    QVERIFY(std::count(mid.begin(), mid.end(), e.layer) == 1);
  }
  auto r2 = r;
  r2.request.promoteMiddleOnly = false;
  QCOMPARE(contrastEdits(r2, ContrastAction::SoftPromotion).size(), want.size());

  // The middle scope picks the same experts, restricted to the middle layers.
  rq.layers = ContrastLayers::Middle;
  const auto rm = expertContrast(*s, rq);
  QCOMPARE(rm.picked.size(), nMid);
  QVERIFY(rm.pickLayers == mid);
}

}  // namespace

LL_TEST(againstPlainCounts) {
  LL_REQUIRE_SHARED();
  checkModel("stories260K-moe4.gguf", 0.05f);
  checkModel("olmoe-tiny.gguf", 0.02f);
}

LL_TEST(jsonHasTheContractShapes) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K-moe4.gguf", "", "");
  ExpertContrastRequest rq;
  rq.task = kTask;
  rq.neutral = kNeutral;
  rq.tau = 0.0f;
  const auto r = expertContrast(*s, rq);
  const auto j = expertContrastJson(r);
  QCOMPARE(j["delta"].size(), size_t(r.nLayer));
  QCOMPARE(j["delta"][0].size(), size_t(r.nExpert));
  QCOMPARE(j["picked"].size(), r.picked.size());
  QCOMPARE(j["layers"].get<std::string>(), std::string("all"));
  QCOMPARE(j["edits"]["switch_off"].size(), r.picked.size());
  QCOMPARE(j["edits"]["hard_force"].size(), r.picked.size());
  QCOMPARE(j["edits"]["soft_promotion"].size(),
           contrastEdits(r, ContrastAction::SoftPromotion).size());
  QVERIFY(j["over_forced_layers"].get<std::vector<int>>() ==
          overForcedLayers(contrastEdits(r, ContrastAction::HardForce), r.nExpertUsed));
  for (size_t i = 0; i < r.picked.size(); ++i) {
    QCOMPARE(j["picked"][i]["layer"].get<int>(), r.picked[i].first);
    QVERIFY(j["picked"][i]["delta"].get<float>() > 0.0f);
  }
}

LL_TEST(badRequestsAndCancel) {
  LL_REQUIRE_SHARED();
  auto moe = anatest::session("stories260K-moe4.gguf", "", "");
  auto dense = anatest::session("stories260K.gguf", "", "");
  auto throws = [](const std::function<void()>& f, const std::string& says) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what()).find(says) != std::string::npos;
    }
    return false;
  };
  ExpertContrastRequest rq;
  rq.task = kTask;
  rq.neutral = kNeutral;
  QVERIFY(throws([&] { expertContrast(*dense, rq); }, "no experts"));
  auto noNeutral = rq;
  noNeutral.neutral = {"", "  "};
  QVERIFY(throws([&] { expertContrast(*moe, noNeutral); }, "neutral set has no prompts"));
  auto nanTau = rq;
  nanTau.tau = NAN;
  QVERIFY(throws([&] { expertContrast(*moe, nanTau); }, "τ"));
  QVERIFY(throws([] { parseContrastLayers("first"); }, "all, middle"));
  QVERIFY(parseContrastLayers("middle") == ContrastLayers::Middle);
  int calls = 0;
  bool cancelled = false;
  try {
    expertContrast(*moe, rq, [&](int, int) { return ++calls < 2; });
  } catch (const Cancelled&) {
    cancelled = true;
  }
  QVERIFY(cancelled);
  QCOMPARE(calls, 2);
}

LL_TEST_MAIN("tst_expert_contrast")
