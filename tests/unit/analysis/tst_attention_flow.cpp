// Attention statistics (§1), knockout (§10) and depth usage (§11): head entropy against plain loops
// over the reference attention files, the induction score on hand-made maps and on the model's own
// maps, knockout against an independent path (the last token alone), depth usage on a hand-made
// trace.
#include <cmath>

#include "ana_common.h"
#include "runtime/analysis/attention_stats.h"
#include "runtime/analysis/depth_usage.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/stats.h"

using namespace ll::rt;
using namespace ll::rt::ana;

LL_TEST(headEntropyAgainstReference) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  auto tr = s->run();
  const int T = tr->nTokens, H = tr->nHead;
  for (int l = 0; l < tr->nLayer; ++l) {
    auto ref = anatest::ref("stories260K", "park", "attn-" + std::to_string(l) + ".npy");
    auto e = headEntropy(*tr, l), n = normalizedHeadEntropy(*tr, l);
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; ++i) {
        double want = 0;
        for (int j = 0; j <= i; ++j) {
          const double p = ref.f32[(size_t(h) * T + i) * T + j];
          if (p > 0) want -= p * std::log(p);
        }
        QVERIFY(std::fabs(e[size_t(h) * T + i] - want) < 1e-3);
        const double wn = i == 0 ? 0.0 : want / std::log(i + 1.0);
        QVERIFY(std::fabs(n[size_t(h) * T + i] - wn) < 1e-3);
      }
  }
  auto m = meanHeadEntropy(*tr, false);
  QCOMPARE(m.size(), size_t(tr->nLayer * H));
  // one query row: the mean over heads equals the mean of the reference rows; the sum is H times it
  auto ref = anatest::ref("stories260K", "park", "attn-1.npy");
  auto rows = attnRows(*tr, 1);
  auto mean = queryRow(rows, T, H, T - 1, -1),
       sum = queryRow(rows, T, H, T - 1, -1, HeadCombine::Sum);
  for (int j = 0; j < T; ++j) {
    double w = 0;
    for (int h = 0; h < H; ++h) w += ref.f32[(size_t(h) * T + T - 1) * T + j] / H;
    QVERIFY(std::fabs(mean[j] - w) < 1e-4 && std::fabs(sum[j] - H * w) < 1e-3);
  }
}

LL_TEST(inductionScore) {
  // hand-made: head 0 is a perfect induction head, head 1 attends BOS only. n = 3, T = 7.
  const int n = 3, T = 2 * n + 1;
  AttnRowFn rows = [&](int h, int i, float* r) {
    for (int j = 0; j < T; ++j) r[j] = 0;
    if (h == 0 && i - n + 1 >= 0)
      r[i - n + 1] = 1;
    else
      r[0] = 1;
  };
  auto s = inductionScores(rows, T, 2, n);
  QCOMPARE(s[0], 1.0f);
  // head 1: only query i = n-1 has its stripe key at 0 -> 1 of the n + 2 stripe entries
  QVERIFY(std::fabs(s[1] - 1.0f / (n + 2)) < 1e-6);
  auto ids = inductionPrompt(1, 50, 3, 500, 7);
  QCOMPARE(ids.size(), size_t(101));
  QCOMPARE(ids[0], 1);
  for (int i = 1; i <= 50; ++i) QCOMPARE(ids[i], ids[i + 50]);
  if (lltest::sharedDir().empty()) return;
  // on the model: the score from the host softmax of Q/K equals the one read off the engine's own
  // attention maps (Session::attentionMap)
  auto sess = anatest::session("stories260K.gguf", "stories260K", "");
  sess->setPromptIds(ids);
  auto tr = sess->run();
  auto got = inductionScores(*tr, 50);
  for (int l = 0; l < tr->nLayer; ++l)
    for (int h = 0; h < tr->nHead; ++h) {
      auto map = sess->attentionMap(*tr, l, h);
      double w = 0;
      for (int i = 49; i < 101; ++i) w += map[size_t(i) * 101 + i - 49] / 52.0;
      QVERIFY(std::fabs(got[size_t(l) * tr->nHead + h] - w) < 1e-4);
    }
}

LL_TEST(knockoutLastTokenAlone) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  const int T = static_cast<int>(s->promptIds().size()), L = s->model().spec.nLayer;
  QCOMPARE(knockoutWindow(4, 9, 32), std::make_pair(0, 9));
  QCOMPARE(knockoutWindow(20, 9, 32), std::make_pair(16, 25));
  QCOMPARE(knockoutWindow(31, 4, 32), std::make_pair(29, 32));
  QCOMPARE(parseSpan("last", T), std::vector<int>{T - 1});
  QCOMPARE(parseSpan("0,3-5,-1", T), (std::vector<int>{0, 3, 4, 5, T - 1}));
  QCOMPARE(parseSpan("all-but-last", T).size(), size_t(T - 1));
  // The last token cut off from everything before it in every layer sees only itself: the same as
  // running it alone at its position (the engine's TokenSubset path).
  KnockoutResult r = attentionKnockout(*s, {T - 1}, parseSpan("all-but-last", T), L / 2, 2 * L);
  QCOMPARE(r.layerBegin, 0);
  QCOMPARE(r.layerEnd, L);
  RunRequest base;
  auto full = s->run(base);
  auto pb = softmax(full->logitsRow(T - 1), full->nVocab);
  RunRequest alone;
  alone.subset = TokenSubset{{T - 1}, true};
  auto a = s->run(alone);
  auto pa = softmax(a->logitsRow(0), a->nVocab);
  QVERIFY(std::fabs(r.pBase - pb[r.answer]) < 1e-5);
  QVERIFY(std::fabs(r.pNew - pa[r.answer]) < 1e-5);
  QVERIFY(std::fabs(r.relativeChange - 100.0 * (pa[r.answer] - pb[r.answer]) / pb[r.answer]) <
          1e-2);
}

LL_TEST(depthUsageHand) {
  Trace tr;
  tr.captured = true;
  tr.nTokens = 1;
  tr.nEmbd = 2;
  tr.nLayer = 4;
  tr.embd = {3, 4};  // ||.|| 5
  tr.layers.resize(4);
  tr.layers[0].resid = {6, 8};     // 10: delta 5
  tr.layers[1].resid = {6, 9};     // ~10.817: delta 0.817
  tr.layers[2].resid = {0, 14};    // 14: delta 3.183
  tr.layers[3].resid = {0, 14.5};  // 14.5: delta 0.5
  DepthUsage u = depthUsage(tr, 0.8f);
  const double n1 = std::sqrt(117.0);
  QVERIFY(std::fabs(u.delta[0] - 5) < 1e-6 && std::fabs(u.delta[1] - (n1 - 10)) < 1e-5);
  // range over earlier deltas: l1: {5} -> 0 => active; l2: {5, .817} -> 4.183*0.8 = 3.35 > 3.18
  // => inactive; l3: 0.8 * 4.183 > 0.5 => inactive
  QCOMPARE(u.active, (std::vector<unsigned char>{1, 1, 0, 0}));
  QVERIFY(std::fabs(u.relative[0] - 5.0 / 5.0) < 1e-6);  // ||(3,4)|| / ||(3,4)||
  QVERIFY(std::fabs(u.relative[2] - std::sqrt(36 + 25.0) / n1) < 1e-6);
  auto w = ropeWavelengths(4, 10000.0);
  QVERIFY(std::fabs(w[0] - 2 * M_PI) < 1e-9 && std::fabs(w[1] - 2 * M_PI * 100.0) < 1e-6);
}

LL_TEST_MAIN("tst_attention_flow")
