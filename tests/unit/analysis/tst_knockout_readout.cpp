// The knockout readout (§10) the GUI shows: the effect at the user's layers and the layer sweep
// (window of 9 centred on each layer) against ana::attentionKnockout on the same prompt and token
// groups, under a router edit against plain runs; progress, cancel and bad layers.
#include <cmath>

#include "ana_common.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/stats.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {
// Probabilities: a row the engine reuses from its cache and one it computes in a batch round
// differently in the last bits.
bool near(double a, double b) {
  return std::fabs(a - b) <= 1e-6 + 1e-5 * std::fabs(b);
}
// Relative changes in percent: 1e-3 percentage points is 1e-5 of p.
bool nearPct(double a, double b) {
  return std::fabs(a - b) <= 1e-3 + 1e-5 * std::fabs(b);
}
}  // namespace

LL_TEST(readoutMatchesAttentionKnockout) {
  LL_REQUIRE_SHARED();
  for (const char* f : {"stories260K", "stories260K-moe4"}) {
    auto s = anatest::session(std::string(f) + ".gguf", f, "park");
    const auto ids = s->promptIds();
    const int T = static_cast<int>(ids.size()), L = s->model().spec.nLayer;
    const std::vector<int> from{T - 1}, to = parseSpan("all-but-last", T);
    const auto [b, e] = knockoutWindow(L / 2, 2 * L, L);  // every layer
    KnockoutReadoutRequest rq;
    rq.sweep = true;
    int calls = 0;
    const KnockoutReadout r =
        knockoutReadout(*s, ids, {}, Knockout{from, to, b, e}, rq, [&](int done, int total) {
          ++calls;
          QCOMPARE(total, L + 2);
          return done <= total;
        });
    QCOMPARE(calls, L + 2);
    const KnockoutResult want = attentionKnockout(*s, from, to, L / 2, 2 * L);
    QCOMPARE(r.effect.answer, want.answer);
    QVERIFY(near(r.effect.pBase, want.pBase));
    QVERIFY(near(r.effect.pNew, want.pNew));
    QVERIFY2(nearPct(r.effect.relativeChange, want.relativeChange),
             std::to_string(r.effect.relativeChange) + " vs " +
                 std::to_string(want.relativeChange) + " p " + std::to_string(r.effect.pBase) +
                 " " + std::to_string(want.pBase) + " " + std::to_string(r.effect.pNew) + " " +
                 std::to_string(want.pNew));
    QVERIFY(std::fabs(want.relativeChange) > 1.0);  // the knockout does something
    QCOMPARE(r.window, 9);
    QCOMPARE(r.sweep.size(), size_t(L));
    for (int l = 0; l < L; ++l) {
      const KnockoutResult w = attentionKnockout(*s, from, to, l, 9);
      QVERIFY(r.sweepLayers[l] == std::make_pair(w.layerBegin, w.layerEnd));
      QVERIFY(nearPct(r.sweep[l], w.relativeChange));
      QVERIFY(near(r.sweepPNew[l], w.pNew));
    }
  }
}

LL_TEST(readoutKeepsTheOtherInterventions) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K-moe4.gguf", "stories260K-moe4", "park");
  const auto ids = s->promptIds();
  const int T = static_cast<int>(ids.size());
  Interventions base;
  base.router = {{1, 0, RouterEditKind::Ban, 0.0f}, {2, 3, RouterEditKind::Ban, 0.0f}};
  base.knockout = Knockout{{0}, {1}, 0, 1};  // replaced by the readout's own
  const Knockout ko{{T - 1}, {1, 2, 3}, 1, 4};
  KnockoutReadoutRequest rq;
  rq.answer = 7;
  const auto r = knockoutReadout(*s, ids, base, ko, rq);
  QVERIFY(r.sweep.empty());
  RunRequest plain;
  plain.interventions.router = base.router;
  const auto pb = softmax(s->run(plain)->logitsRow(T - 1), s->model().spec.nVocab);
  plain.interventions.knockout = ko;
  const auto pn = softmax(s->run(plain)->logitsRow(T - 1), s->model().spec.nVocab);
  QCOMPARE(r.effect.answer, 7);
  QVERIFY(near(r.effect.pBase, pb[7]));
  QVERIFY(near(r.effect.pNew, pn[7]));
  QVERIFY(nearPct(r.effect.relativeChange, 100.0 * (pn[7] - pb[7]) / pb[7]));
}

LL_TEST(readoutBadInputAndCancel) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  const auto ids = s->promptIds();
  const int L = s->model().spec.nLayer;
  auto says = [](const std::function<void()>& f, const std::string& what) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what()).find(what) != std::string::npos;
    }
    return false;
  };
  QVERIFY(says([&] { knockoutReadout(*s, ids, {}, Knockout{{1}, {0}, 2, 2}); }, "layers"));
  QVERIFY(says([&] { knockoutReadout(*s, ids, {}, Knockout{{1}, {0}, 0, L + 1}); }, "layers"));
  KnockoutReadoutRequest rq;
  rq.answer = 1 << 20;
  QVERIFY(says([&] { knockoutReadout(*s, ids, {}, Knockout{{1}, {0}, 0, 1}, rq); }, "answer"));
  rq = {};
  rq.sweep = true;
  bool cancelled = false;
  try {
    knockoutReadout(*s, ids, {}, Knockout{{1}, {0}, 0, 1}, rq,
                    [](int done, int) { return done < 3; });
  } catch (const Cancelled&) {
    cancelled = true;
  }
  QVERIFY(cancelled);
}

LL_TEST_MAIN("tst_knockout_readout")
