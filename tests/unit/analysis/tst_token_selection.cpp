// Token selection (ALGORITHMS.md §2-5): hand-computed cases, and GemFilter / SnapKV / H2O /
// PromptDistill on stories260K long300 against plain loops over the reference attention files
// (shared/reference) and over the trace's Q/K.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ana_common.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/stats.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

// T=6, H=2 query heads sharing one kv head, d=2; only the last query row is non-zero.
struct Hand {
  std::vector<float> q = std::vector<float>(6 * 4, 0.0f);
  std::vector<float> k{1, 0, 0, 0, 3, 1, 0, 0, 0, 2, 1, 1};
  Hand() {
    q[5 * 4 + 0] = 1;  // head 0 = (1, 0)
    q[5 * 4 + 3] = 1;  // head 1 = (0, 1)
  }
  QkView view() const {
    QkView v;
    v.q = q.data();
    v.k = k.data();
    v.T = 6;
    v.nHead = 2;
    v.nHeadKv = 1;
    v.headDim = 2;
    v.scale = 1.0f / std::sqrt(2.0f);
    return v;
  }
};

// Expected selection from plain loops: the `keep` largest of s[0..n) (ties: lower index), sorted.
std::vector<int> topLoop(const std::vector<double>& s, int keep, int n) {
  std::vector<int> out;
  std::vector<bool> used(n, false);
  for (int r = 0; r < keep && r < n; ++r) {
    int best = -1;
    for (int j = 0; j < n; ++j)
      if (!used[j] && (best < 0 || s[j] > s[best])) best = j;
    used[best] = true;
    out.push_back(best);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<double> pool5(const std::vector<double>& s) {
  const int n = static_cast<int>(s.size());
  std::vector<double> o(n, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = i - 2; j <= i + 2; ++j)
      if (j >= 0 && j < n) o[i] += s[j];
    o[i] /= 5.0;
  }
  return o;
}

}  // namespace

LL_TEST(poolingAndTopK) {
  auto p = avgPool({1, 0, 4, 0, 2, 2}, 5);
  const std::vector<float> want{1.0f, 1.0f, 1.4f, 1.6f, 1.6f, 0.8f};
  for (int i = 0; i < 6; ++i) QVERIFY2(std::fabs(p[i] - want[i]) < 1e-6, std::to_string(i));
  auto m = maxPool({1, 0, 4, 0, 2, 2}, 3);
  QCOMPARE(m, (std::vector<float>{1, 4, 4, 4, 2, 2}));
  QCOMPARE(topKIndices({1, 5, 5, 2, 7}, 3), (std::vector<int>{1, 2, 4}));
  QCOMPARE(topKIndices({1, 5, 5, 2, 7}, 2, 3), (std::vector<int>{1, 2}));
  QVERIFY(std::fabs(jaccard({1, 2, 3}, {2, 3, 4, 5}) - 2.0 / 5.0) < 1e-12);
  QCOMPARE(jaccard({}, {}), 1.0);
}

LL_TEST(gemFilterHand) {
  Hand h;
  auto raw = gemFilterRawScores(h.view());
  QCOMPARE(raw, (std::vector<float>{1, 0, 4, 0, 2, 2}));
  Selection s = gemFilter(h.view(), 3);
  QCOMPARE(s.kept, (std::vector<int>{2, 3, 4}));
  QVERIFY(std::fabs(s.scores[3] - 1.6f) < 1e-6);
  QCOMPARE(gemFilter(h.view(), 100).kept.size(), size_t(6));  // k = min(k, T)
}

LL_TEST(promptDistillHand) {
  Hand h;
  std::vector<int> all{0, 1, 2, 3, 4, 5};
  Selection a = promptDistillStage(h.view(), all, 2, 1);
  QCOMPARE(a.kept, (std::vector<int>{2, 4, 5}));
  QVERIFY(std::fabs(a.scores[2] - std::sqrt(2.0)) < 1e-6);  // 4 / 2 heads / sqrt(2)
  QCOMPARE(a.scores[5], 0.0f);
  Selection b = promptDistillStage(h.view(), all, 2, 5);
  QCOMPARE(b.kept, (std::vector<int>{2, 3, 5}));  // pooled [5,5,7,6,6,2]: tie 3 vs 4 -> 3
  QVERIFY(std::fabs(b.scores[2] - 7.0 / 5.0 / (2 * std::sqrt(2.0))) < 1e-6);
  // a second stage chooses among the survivors only
  Selection c = promptDistillStage(h.view(), {1, 3, 4, 5}, 1, 1);
  QCOMPARE(c.kept, (std::vector<int>{4, 5}));
}

LL_TEST(snapKvAndH2oHand) {
  const std::vector<std::vector<float>> A{{1, 0, 0, 0, 0},
                                          {0.5, 0.5, 0, 0, 0},
                                          {0.2, 0.3, 0.5, 0, 0},
                                          {0.1, 0.5, 0.2, 0.2, 0},
                                          {0.3, 0.1, 0.1, 0.2, 0.3}};
  AttnRowFn rows = [&](int, int i, float* r) { std::copy(A[i].begin(), A[i].end(), r); };
  Selection s = snapKv(rows, 5, 1, 3, 2, 1);
  QCOMPARE(s.keptPerHead[0], (std::vector<int>{1, 3, 4}));
  QVERIFY(std::fabs(s.scoresPerHead[0][1] - 0.6f) < 1e-6);
  QCOMPARE(snapKv(rows, 5, 1, 8, 2, 1).keptPerHead[0].size(), size_t(5));  // T <= C keeps all
  Selection h = h2o({3, 1, 2, 0.5, 1}, 5, 1, 1, 2);
  QCOMPARE(h.keptPerHead[0], (std::vector<int>{0, 3, 4}));
  auto cs = columnSums(rows, 5, 1);
  QVERIFY(std::fabs(cs[0] - 2.1f) < 1e-6 && std::fabs(cs[4] - 0.3f) < 1e-6);
}

namespace {
struct Long300 {
  std::unique_ptr<Session> s;
  std::shared_ptr<const Trace> tr;
  Long300() {
    s = anatest::session("stories260K.gguf", "stories260K", "long300");
    tr = s->run();
  }
};
Long300& long300() {
  static Long300 l;
  return l;
}
}  // namespace

// The trace's post-RoPE Q/K reproduce the reference attention: what GemFilter and PromptDistill
// score is the model's real q and k.
LL_TEST(traceQkMatchesReferenceAttention) {
  LL_REQUIRE_SHARED();
  auto& L = long300();
  for (int l : {0, 4}) {
    auto ref = anatest::ref("stories260K", "long300", "attn-" + std::to_string(l) + ".npy");
    const int T = L.tr->nTokens, H = L.tr->nHead;
    auto rows = attnRows(*L.tr, l);
    std::vector<float> row(T);
    double m = 0;
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; i += 7) {
        rows(h, i, row.data());
        for (int j = 0; j < T; ++j)
          m = std::max(m, std::fabs(double(row[j]) - ref.f32[(size_t(h) * T + i) * T + j]));
      }
    QVERIFY2(m < 1e-4, "layer " + std::to_string(l) + " max diff " + std::to_string(m));
  }
}

LL_TEST(gemFilterOnTrace) {
  LL_REQUIRE_SHARED();
  auto& L = long300();
  const Trace& tr = *L.tr;
  const int T = tr.nTokens, H = tr.nHead, d = tr.headDim, g = H / tr.nHeadKv;
  for (int layer : {1, 3}) {
    const auto& Lt = tr.layers[layer];
    const std::vector<float> qLast = tr.queries(layer, T - 1, T);
    std::vector<double> s(T, 0.0);
    for (int j = 0; j < T; ++j)
      for (int h = 0; h < H; ++h)
        for (int c = 0; c < d; ++c)
          s[j] += double(qLast[size_t(h) * d + c]) * Lt.k[(size_t(j) * tr.nHeadKv + h / g) * d + c];
    auto pooled = pool5(s);
    Selection got = gemFilter(qkView(tr, layer), 40);
    QCOMPARE(got.kept, topLoop(pooled, 40, T));
    const double rel = anatest::maxRel(got.scores, pooled, 1e-3);
    QVERIFY2(rel < 1e-5, "scores: max relative difference " + std::to_string(rel));
  }
  auto sweep = gemFilterLayerSweep(tr, 40);
  QCOMPARE(sweep.size(), size_t(tr.nLayer));
  QCOMPARE(sweep[3], gemFilter(qkView(tr, 3), 40).kept);
}

LL_TEST(snapKvAgainstReferenceAttention) {
  LL_REQUIRE_SHARED();
  auto& L = long300();
  const int layer = 2, C = 64, W = 16;
  auto ref = anatest::ref("stories260K", "long300", "attn-2.npy");
  const int T = static_cast<int>(ref.shape[1]), H = static_cast<int>(ref.shape[0]);
  AttnRowFn refRows = [&](int h, int i, float* r) {
    std::copy_n(ref.f32.begin() + (size_t(h) * T + i) * T, T, r);
  };
  Selection fromRef = snapKv(refRows, T, H, C, W, 5);
  Selection fromTrace = snapKv(attnRows(*L.tr, layer), T, H, C, W, 5);
  for (int h = 0; h < H; ++h) {
    std::vector<double> acc(T - W, 0.0);
    for (int i = T - W; i < T; ++i)
      for (int j = 0; j < T - W; ++j) acc[j] += ref.f32[(size_t(h) * T + i) * T + j];
    auto pooled = pool5(acc);
    auto want = topLoop(pooled, C - W, T - W);
    for (int j = T - W; j < T; ++j) want.push_back(j);
    QCOMPARE(fromRef.keptPerHead[h], want);
    QVERIFY2(anatest::maxRel(fromRef.scoresPerHead[h], pooled, 1e-3) < 1e-5, "ref scores");
    QCOMPARE(fromTrace.keptPerHead[h], want);
    QVERIFY2(anatest::maxRel(fromTrace.scoresPerHead[h], pooled, 1e-2) < 1e-3, "trace scores");
  }
}

LL_TEST(h2oAgainstReferenceAttention) {
  LL_REQUIRE_SHARED();
  auto& L = long300();
  const int layer = 3, hh = 48, r = 16;
  auto ref = anatest::ref("stories260K", "long300", "attn-3.npy");
  const int T = static_cast<int>(ref.shape[1]), H = static_cast<int>(ref.shape[0]);
  std::vector<float> refCol(size_t(H) * T, 0.0f);
  for (int h = 0; h < H; ++h) {
    std::vector<double> acc(T, 0.0);
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j) acc[j] += ref.f32[(size_t(h) * T + i) * T + j];
    auto want = topLoop(acc, hh, T - r);
    for (int j = T - r; j < T; ++j) want.push_back(j);
    for (int j = 0; j < T; ++j) refCol[size_t(h) * T + j] = static_cast<float>(acc[j]);
    Selection fromRef = h2o(refCol, T, H, hh, r);
    QCOMPARE(fromRef.keptPerHead[h], want);
    QVERIFY2(anatest::maxRel(fromRef.scoresPerHead[h], acc, 1e-3) < 1e-5, "ref scores");
    // the engine's column sums (computed in the attention pass) select the same tokens
    Selection fromTrace = h2o(L.tr->layers[layer].colSum, T, H, hh, r);
    QCOMPARE(fromTrace.keptPerHead[h], want);
    QVERIFY2(anatest::maxRel(fromTrace.scoresPerHead[h], acc, 1e-2) < 1e-3, "trace scores");
  }
}

LL_TEST(promptDistillOnTrace) {
  LL_REQUIRE_SHARED();
  auto& L = long300();
  const Trace& tr = *L.tr;
  const int T = tr.nTokens, H = tr.nHead, d = tr.headDim, g = H / tr.nHeadKv, layer = 2, k = 50;
  const auto& Lt = tr.layers[layer];
  const std::vector<float> qLast = tr.queries(layer, T - 1, T);
  std::vector<double> s(T, 0.0);
  for (int j = 0; j < T - 1; ++j) {
    for (int h = 0; h < H; ++h)
      for (int c = 0; c < d; ++c)
        s[j] += double(qLast[size_t(h) * d + c]) * Lt.k[(size_t(j) * tr.nHeadKv + h / g) * d + c];
    s[j] /= std::sqrt(double(d)) * H;
  }
  auto pooled = pool5(s);
  std::vector<int> all(T);
  std::iota(all.begin(), all.end(), 0);
  Selection got = promptDistillStage(qkView(tr, layer), all, k, 5);
  auto want = topLoop(pooled, k, T - 1);
  want.push_back(T - 1);
  QCOMPARE(got.kept, want);
  QVERIFY2(anatest::maxRel(got.scores, pooled, 1e-3) < 1e-5, "scores");

  // Two stages through the Session: stage 1 equals the single-stage selection, stage 2 keeps
  // k2 of the survivors plus the last token.
  DistillResult r = promptDistill(*L.s, parseStages("2:50,3:20"));
  QCOMPARE(r.keptPerStage[0], want);
  QCOMPARE(r.keptPerStage[1].size(), size_t(21));
  for (int i : r.keptPerStage[1]) QVERIFY(std::binary_search(want.begin(), want.end(), i));
  QCOMPARE(r.survivorsPerLayer, (std::vector<int>{T, T, T, 51, 21}));
}

// Continuing with dropped tokens knocked out from layer 0 is the same computation as running only
// the kept tokens at their original positions (the engine's TokenSubset path); GemFilter's answer
// is the kept tokens re-indexed.
LL_TEST(answersFromKeptTokens) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  const int T = static_cast<int>(s->promptIds().size());
  std::vector<int> kept;
  for (int i = 0; i < T; ++i)
    if (i % 3 != 1 || i == T - 1) kept.push_back(i);
  GenerateRequest g;
  g.maxTokens = 6;
  g.subset = TokenSubset{kept, true};
  auto viaSubset = s->generate(g).ids;
  Answers a = answerKeptPositions(*s, kept, 0, 6);
  QCOMPARE(a.compressed, viaSubset);
  g.subset = TokenSubset{kept, false};
  Answers b = answerReindexed(*s, kept, 6);
  QCOMPARE(b.compressed, s->generate(g).ids);
  g.subset.reset();
  QCOMPARE(b.full, s->generate(g).ids);
  // keeping everything changes nothing
  std::vector<int> all(T);
  std::iota(all.begin(), all.end(), 0);
  Answers c = answerKeptPositions(*s, all, 2, 6);
  QCOMPARE(c.compressed, c.full);
  bool threw = false;
  try {
    parseStages("3:10,2:5");
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY(threw);
}

// GemFilter from a pass that stops after the selection layer: the same kept set and scores as from
// a full pass; layers past it and the logits are not computed; the engine's cache stays exact.
LL_TEST(gemFilterEarlyExit) {
  LL_REQUIRE_SHARED();
  for (bool warm : {false, true}) {
    auto s = anatest::session("stories260K.gguf", "stories260K", "long300");
    auto ref = anatest::session("stories260K.gguf", "stories260K", "long300");
    const auto full = ref->run();
    if (warm) s->run();  // the early pass then reuses a published prefix
    const int r = 2, k = 64;
    const Selection want = gemFilter(qkView(*full, r), k);
    const Selection got = gemFilterSelect(*s, r, k);
    QCOMPARE(got.kept, want.kept);
    // Warm, the last query row is computed alone: its matrix-vector products round differently
    // from the full pass's matrix products (measured 2.3e-6 relative on the pooled scores).
    const double rel = anatest::maxRel(
        got.scores, std::vector<double>(want.scores.begin(), want.scores.end()), 1e-6);
    QVERIFY2(rel < (warm ? 1e-5 : 1e-6), "early-exit scores differ by " + std::to_string(rel));
    CaptureOptions cap;
    cap.lastLayer = r;
    std::vector<int32_t> pos(s->promptIds().size());
    std::iota(pos.begin(), pos.end(), 0);
    auto e = s->engine().run(s->promptIds(), pos, {}, cap, {}, false);
    // Nothing past layer r was computed for the rows this pass ran (reused rows may hold the
    // previous pass's values; the arrays may also be left empty).
    const size_t p = size_t(e->reusedRows);
    QVERIFY(p < s->promptIds().size());
    auto untouched = [&](const std::vector<float>& a, size_t width) {
      return a.size() <= p * width ||
             std::all_of(a.begin() + p * width, a.end(), [](float x) { return x == 0.0f; });
    };
    QVERIFY(untouched(e->logits, size_t(e->nVocab)));
    for (int l = r + 1; l < e->nLayer; ++l)
      QVERIFY(untouched(e->layers[l].resid, size_t(e->nEmbd)));
    QVERIFY(!untouched(e->layers[r].resid, size_t(e->nEmbd)));
    // A full run after the early exits equals a fresh session's.
    const auto after = s->run();
    double worst = 0;
    for (size_t i = 0; i < full->logits.size(); ++i)
      worst = std::max(worst, double(std::fabs(after->logits[i] - full->logits[i])));
    QVERIFY2(worst < 1e-5, "a run after an early exit differs from a fresh one");
  }
}

LL_TEST_MAIN("tst_token_selection")
