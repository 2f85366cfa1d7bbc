// Every analysis on every new family (qwen3, qwen3moe, gemma2, gemma3, phi3, gpt-oss), through the
// Session on the park prompt (27 tokens, longer than the fixtures' window of 8): the lens with and
// without the final norm (with it, the last row IS the model's output, Gemma 2's final soft-cap
// included), entropies in [0, ln V], the trace's attention statistics within each layer's window
// (and sink), token selections of the requested size and sorted, PromptDistill's stages and its
// continuation, GemFilter's compressed-prompt answer, steering (alpha 0 is the plain run; alpha !=
// 0 moves the steered rows only, downstream of the steered layer), knockouts (exactly the rows they
// should; a key the window already hides is a no-op), routing statistics and router edits on the
// MoE families, depth usage, and the warnings where a method is limited by the sliding window.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ana_common.h"
#include "runtime/analysis/attention_stats.h"
#include "runtime/analysis/depth_usage.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/stats.h"
#include "runtime/analysis/steering.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

struct Family {
  const char* file;
  const char* ref;
};
const Family kFamilies[] = {
    {"qwen3-tiny.gguf", "qwen3-tiny"},   {"qwen3moe-tiny.gguf", "qwen3moe-tiny"},
    {"gemma2-tiny.gguf", "gemma2-tiny"}, {"gemma3-tiny.gguf", "gemma3-tiny"},
    {"phi3-tiny.gguf", "phi3-tiny"},     {"gpt-oss-tiny.gguf", "gpt-oss-tiny"}};

std::unique_ptr<Session> open(const Family& f) {
  return anatest::session(f.file, f.ref, "park");
}

template <class A, class B>
double maxAbsDiff(const A& a, const B& b, size_t begin = 0, size_t end = SIZE_MAX) {
  if (a.size() != b.size()) return INFINITY;
  end = std::min(end, size_t(a.size()));
  double m = 0;
  for (size_t i = begin; i < end; ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

// Rows [r0, r1) of a [T, d] tensor.
template <class A, class B>
double rowsDiff(const A& a, const B& b, int d, int r0, int r1) {
  return maxAbsDiff(a, b, size_t(r0) * d, size_t(r1) * d);
}

bool strictlyAscending(const std::vector<int>& v, int T) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] < 0 || v[i] >= T || (i && v[i] <= v[i - 1])) return false;
  return true;
}

std::string where(const Family& f, int layer = -1) {
  return std::string(f.ref) + (layer >= 0 ? " layer " + std::to_string(layer) : "");
}

// Two CPU passes differ by float reordering only; interventions move values by O(0.1) or more.
constexpr double kSame = 2e-4;

int32_t argmax(const float* row, int n) {
  return int32_t(std::max_element(row, row + n) - row);
}

// A windowed and a full-attention layer of the model (-1 when it has none).
std::pair<int, int> windowedAndFull(const ModelSpec& s) {
  int w = -1, f = -1;
  for (int l = 0; l < s.nLayer; ++l)
    if (s.layerWindow(l) > 0) {
      if (w < 0) w = l;
    } else if (f < 0) {
      f = l;
    }
  return {w, f};
}

}  // namespace

// Lens with the final norm at the last layer == the model's own logits (Gemma 2: soft-capped);
// entropies finite and within [0, ln V]; the BuPO variant (no final norm) differs; output entropy
// and fork tokens agree with the logits.
LL_TEST(lensAndEntropy) {
  LL_REQUIRE_SHARED();
  for (const Family& f : kFamilies) {
    auto s = open(f);
    auto tr = s->run();
    const int T = tr->nTokens, L = tr->nLayer, V = tr->nVocab;
    const ModelSpec& sp = s->model().spec;
    QVERIFY(T == 27);
    LensProjector proj(s->engine());
    std::vector<float> lg(size_t(T) * V);
    proj.project(tr->layers[L - 1].resid.data(), T, true, lg.data());
    double mx = 0;
    for (float x : tr->logits) mx = std::max(mx, double(std::fabs(x)));
    QVERIFY2(maxAbsDiff(lg, tr->logits) <= 1e-4 * std::max(1.0, mx),
             where(f) + ": lens at the last layer vs the trace's logits " +
                 std::to_string(maxAbsDiff(lg, tr->logits)));
    if (sp.finalSoftcap > 0)
      QVERIFY2(mx <= sp.finalSoftcap + 1e-4 && mx > 0.5 * sp.finalSoftcap, where(f));
    const double lnV = std::log(double(V));
    const auto ent = outputEntropy(*tr);
    for (int t = 0; t < T; ++t) {
      const RowStats st = rowStats(tr->logitsRow(t), V, 1);
      QVERIFY(std::fabs(ent.entropy[t] - st.entropy) < 1e-5);
      QVERIFY(std::fabs(ent.normalized[t] - st.entropy / lnV) < 1e-5);
      QVERIFY(ent.normalized[t] >= 0 && ent.normalized[t] <= 1 + 1e-6);
    }
    const auto forks = forkTokens(*tr, 4);
    QCOMPARE(forks.size(), size_t(4));
    for (size_t i = 0; i < forks.size(); ++i) {
      QCOMPARE(forks[i].entropy, ent.entropy[forks[i].index]);
      if (i) QVERIFY(forks[i].entropy <= forks[i - 1].entropy);
    }

    LensOptions o;
    o.target = argmax(tr->logitsRow(T - 1), V);
    o.topK = 3;
    LensResult with, without;
    for (bool fn : {true, false}) {
      o.finalNorm = fn;
      const LensResult r = logitLens(s->engine(), *tr, o);
      QCOMPARE(r.nRows, L + 1);
      QCOMPARE(r.tokens.size(), size_t(T));
      for (float h : r.entropy)
        QVERIFY2(std::isfinite(h) && h >= -1e-5 && h <= lnV + 1e-4, where(f));
      for (float h : r.midEntropy)
        QVERIFY2(std::isfinite(h) && h >= -1e-5 && h <= lnV + 1e-4, where(f));
      for (size_t i = 0; i < r.rank.size(); ++i) {
        QVERIFY(r.rank[i] >= 0 && r.rank[i] < V);
        QVERIFY(r.prob[i] >= 0 && r.prob[i] <= 1);
      }
      for (size_t i = 0; i + 1 < r.topProbs.size(); ++i)
        if ((i + 1) % 3) QVERIFY(r.topProbs[i] >= r.topProbs[i + 1]);
      for (int l = 0; l < L; ++l)
        for (int c = 0; c < T; ++c) {
          const size_t m = size_t(l) * T + c;
          const double sum = r.deltaAttn[m] + r.deltaMlp[m];
          QVERIFY(std::fabs(sum - (r.entropy[m + T] - r.entropy[m])) < 1e-4);
        }
      (fn ? with : without) = r;
    }
    for (int t = 0; t < T; ++t) {
      // The last lens row with the final norm is the model's output distribution.
      const RowStats st = rowStats(tr->logitsRow(t), V, 1, o.target);
      QVERIFY2(std::fabs(with.entropy[size_t(L) * T + t] - st.entropy) < 1e-3, where(f));
      QCOMPARE(with.top1[size_t(L) * T + t], st.topIds[0]);
      QCOMPARE(with.finalTop1[t], st.topIds[0]);
      // Ranks may swap neighbours that lie within float rounding of each other.
      QVERIFY(std::abs(with.rank[size_t(L) * T + t] - st.rank) <= 1);
      QVERIFY(with.earlyExit[t] >= 0 && with.earlyExit[t] <= L);
      QCOMPARE(with.top1[size_t(with.earlyExit[t]) * T + t], st.topIds[0]);
    }
    QCOMPARE(with.rank[size_t(L) * T + T - 1], 0);
    // Without the final norm the rows are other distributions (the norm is not the identity).
    QVERIFY2(maxAbsDiff(with.entropy, without.entropy) > 1e-3, where(f));
  }
}

// The trace's attention statistics honour each layer's window and sinks: a row's entropy is at
// most ln(visible keys (+1 for the sink)), the last row's probabilities outside the window are 0,
// rows sum to 1 (with sinks: less), the column sums add up to the rows' mass; Session::attentionMap
// agrees with lastRow; the normalised entropy divides by that maximum, so it stays in [0, 1].
LL_TEST(attentionStatisticsFollowTheFeatures) {
  LL_REQUIRE_SHARED();
  for (const Family& f : kFamilies) {
    auto s = open(f);
    auto tr = s->run();
    const int T = tr->nTokens, H = tr->nHead;
    const ModelSpec& sp = s->model().spec;
    for (int l = 0; l < tr->nLayer; ++l) {
      const int W = sp.layerWindow(l);
      QCOMPARE(tr->layerAttn[l].window, W);
      QCOMPARE(tr->layerAttn[l].softcap, sp.attnSoftcap);
      QCOMPARE(tr->layerAttn[l].sinks.empty(), !sp.attnSinks);
      const auto& L = tr->layers[l];
      double colTotal = 0;
      for (float x : L.colSum) colTotal += x;
      double rowTotal = 0;
      for (int h = 0; h < H; ++h) {
        const auto map = s->attentionMap(*tr, l, h);
        for (int i = 0; i < T; ++i) {
          const int visible = W > 0 ? std::min(i + 1, W) : i + 1;
          const double bound = std::log(double(visible + (sp.attnSinks ? 1 : 0))) + 1e-4;
          QVERIFY2(L.entropy[size_t(h) * T + i] <= bound && L.entropy[size_t(h) * T + i] >= -1e-5,
                   where(f, l));
          double sum = 0;
          for (int j = 0; j < T; ++j) {
            const float p = map[size_t(i) * T + j];
            if (j > i || (W > 0 && i - j >= W)) QCOMPARE(p, 0.0f);
            sum += p;
          }
          rowTotal += sum;
          if (sp.attnSinks)
            QVERIFY(sum < 1.0 + 1e-5 && sum > 0);
          else
            QVERIFY2(std::fabs(sum - 1.0) < 1e-4, where(f, l));
        }
        for (int j = 0; j < T; ++j)
          QVERIFY(std::fabs(L.lastRow[size_t(h) * T + j] - map[size_t(T - 1) * T + j]) < 1e-5);
      }
      QVERIFY2(std::fabs(colTotal - rowTotal) < 1e-3 * rowTotal, where(f, l));
      // Normalised entropy: divided by the log of the row's outcomes (window, sink), so in [0, 1].
      const auto norm = normalizedHeadEntropy(*tr, l);
      for (int h = 0; h < H; ++h)
        for (int i = 0; i < T; ++i) {
          const int n = (W > 0 ? std::min(i + 1, W) : i + 1) + (sp.attnSinks ? 1 : 0);
          const double e = L.entropy[size_t(h) * T + i];
          const double want = n > 1 ? e / std::log(double(n)) : 0.0;
          QVERIFY2(std::fabs(norm[size_t(h) * T + i] - want) < 1e-5 && want <= 1 + 1e-4,
                   where(f, l));
        }
    }
  }
}

// GemFilter (early exit == full trace, layer sweep), SnapKV and H2O: sizes, sorted, the window /
// recent tokens kept; at a sliding-window layer SnapKV gives keys older than the window score 0
// and every last-query method carries a warning naming the layer and window; full layers none.
LL_TEST(tokenSelections) {
  LL_REQUIRE_SHARED();
  for (const Family& f : kFamilies) {
    auto s = open(f);
    auto tr = s->run();
    const int T = tr->nTokens, H = tr->nHead, L = tr->nLayer;
    const ModelSpec& sp = s->model().spec;
    const auto sweep = gemFilterLayerSweep(*tr, 6);
    QCOMPARE(sweep.size(), size_t(L));
    const auto [wl, fl] = windowedAndFull(sp);
    for (int layer : {0, L - 1, wl, fl}) {
      if (layer < 0) continue;
      const Selection early = gemFilterSelect(*s, layer, 6);
      const Selection full = gemFilter(qkView(*tr, layer, T - 1), 6);
      QCOMPARE(early.kept, full.kept);
      QCOMPARE(sweep[layer], full.kept);
      QCOMPARE(full.kept.size(), size_t(6));
      QVERIFY(strictlyAscending(full.kept, T));
      QCOMPARE(full.scores.size(), size_t(T));
      for (size_t i = 0; i < early.scores.size(); ++i)
        QVERIFY(std::fabs(early.scores[i] - full.scores[i]) <=
                1e-4 * std::max(1.0f, std::fabs(full.scores[i])));
      QCOMPARE(gemFilter(qkView(*tr, layer, T - 1), 100).kept.size(), size_t(T));

      const int obs = 4, cap = 10, kernel = 5;
      const Selection snap = snapKv(attnRows(*tr, layer, T - obs), T, H, cap, obs, kernel);
      QCOMPARE(snap.keptPerHead.size(), size_t(H));
      for (int h = 0; h < H; ++h) {
        const auto& k = snap.keptPerHead[h];
        QCOMPARE(k.size(), size_t(cap));
        QVERIFY(strictlyAscending(k, T));
        for (int j = T - obs; j < T; ++j) QVERIFY(std::binary_search(k.begin(), k.end(), j));
        QCOMPARE(snap.scoresPerHead[h].size(), size_t(T - obs));
        const int W = sp.layerWindow(layer);
        // No observation query sees a key before T - obs - W + 1; pooling spreads kernel / 2.
        if (W > 0)
          for (int j = 0; j < T - obs - W + 1 - kernel / 2; ++j)
            QVERIFY2(snap.scoresPerHead[h][j] == 0.0f, where(f, layer));
      }
      QVERIFY(strictlyAscending(snap.kept, T));
      const Selection h2 = h2o(tr->layers[layer].colSum, T, H, 4, 3);
      for (const auto& k : h2.keptPerHead) {
        QCOMPARE(k.size(), size_t(7));
        QVERIFY(strictlyAscending(k, T));
        for (int j = T - 3; j < T; ++j) QVERIFY(std::binary_search(k.begin(), k.end(), j));
      }

      // Warnings: a windowed layer limits the last-query methods on this 27-token prompt.
      const int W = sp.layerWindow(layer);
      for (auto m : {SelectionMethod::GemFilter, SelectionMethod::SnapKv,
                     SelectionMethod::PromptDistill, SelectionMethod::H2O}) {
        const auto w = selectionWarnings(sp, m, layer, T, obs);
        if (W == 0 || m == SelectionMethod::H2O) {
          QVERIFY2(w.empty(), where(f, layer));
          continue;
        }
        QCOMPARE(w.size(), size_t(1));
        QVERIFY2(w[0].find("layer " + std::to_string(layer) + " ") != std::string::npos &&
                     w[0].find("window " + std::to_string(W)) != std::string::npos &&
                     w[0].find(selectionMethodName(m)) == 0,
                 w[0]);
        // A prompt that fits the window is not limited.
        QVERIFY(selectionWarnings(sp, m, layer, W, 1).empty());
      }
    }
  }
}

// PromptDistill: two stages nest, keep k + the last token, the survivors per layer follow the
// stages, stage 1's scores come from the full run; the continuation (answerDistilled) starts with
// the argmax of the masked run, equals the full answer when nothing is dropped or the stage is the
// last layer; GemFilter's compressed-prompt answer is the greedy run of the kept tokens re-indexed.
LL_TEST(promptDistillAndAnswers) {
  LL_REQUIRE_SHARED();
  for (const Family& f : kFamilies) {
    auto s = open(f);
    auto tr = s->run();
    const int T = tr->nTokens, L = tr->nLayer, V = tr->nVocab;
    const auto ids = s->promptIds();
    const int l1 = 0, l2 = std::max(1, L / 2);
    const DistillResult r = promptDistill(*s, {{l1, 12}, {l2, 6}});
    QCOMPARE(r.keptPerStage.size(), size_t(2));
    QCOMPARE(r.keptPerStage[0].size(), size_t(13));
    QCOMPARE(r.keptPerStage[1].size(), size_t(7));
    for (const auto& k : r.keptPerStage) {
      QVERIFY(strictlyAscending(k, T));
      QCOMPARE(k.back(), T - 1);
    }
    QVERIFY(std::includes(r.keptPerStage[0].begin(), r.keptPerStage[0].end(),
                          r.keptPerStage[1].begin(), r.keptPerStage[1].end()));
    for (int l = 0; l < L; ++l) QCOMPARE(r.survivorsPerLayer[l], l <= l1 ? T : l <= l2 ? 13 : 7);
    std::vector<int> all(T);
    std::iota(all.begin(), all.end(), 0);
    const Selection st1 = promptDistillStage(qkView(*tr, l1, T - 1), all, 12);
    QCOMPARE(st1.kept, r.keptPerStage[0]);

    std::vector<int32_t> pos(T);
    std::iota(pos.begin(), pos.end(), 0);
    const auto none = [](int) { return Interventions{}; };
    const auto plain = greedy(*s, ids, pos, none, 4);
    const Answers a = answerDistilled(*s, {l1, l2}, r.keptPerStage, 0, 4);
    QCOMPARE(a.full, plain);
    QVERIFY(!a.compressed.empty());
    const Interventions iv = distillInterventions(T, {l1, l2}, r.keptPerStage, 0, L);
    auto masked = runIds(*s, ids, iv);
    QCOMPARE(a.compressed[0], argmax(masked->logitsRow(T - 1), V));
    // The kept tokens' states up to the first stage's layer are the full run's.
    for (int l = 0; l <= l1; ++l)
      for (int t : r.keptPerStage[0])
        QVERIFY(rowsDiff(masked->layers[l].resid, tr->layers[l].resid, tr->nEmbd, t, t + 1) <
                kSame);
    // Nothing dropped, or dropped only after the last layer: the full answer.
    QCOMPARE(answerDistilled(*s, {l1}, {all}, -1, 4).compressed, a.full);
    QCOMPARE(answerKeptPositions(*s, r.keptPerStage[1], L, 4).compressed, a.full);

    const Selection gem = gemFilterSelect(*s, l2, 8);
    const Answers g = answerReindexed(*s, gem.kept, 4);
    QCOMPARE(g.full, a.full);
    // Its first token is the last logits' argmax of the kept tokens run as a re-indexed subset.
    RunRequest sub;
    sub.subset = TokenSubset{gem.kept, false};
    auto compressed = s->run(sub);
    QCOMPARE(compressed->positions, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
    QCOMPARE(g.compressed[0], argmax(compressed->logitsRow(7), V));
    QCOMPARE(answerReindexed(*s, all, 4).compressed, a.full);
    // SnapKV with room for every token evicts nothing.
    const HeadEviction ev = snapKvEviction(*tr, T, 4);
    QCOMPARE(answerEvicted(*s, ev, 4).compressed, a.full);
  }
}

// Steering: alpha 0 is the plain run; alpha != 0 at layer l from position p leaves every layer
// before l and every row before p as they were, moves layer l's rows >= p by exactly alpha v, and
// changes the logits of those rows only; the readout sees alpha ||v|| at the steered layer.
LL_TEST(steeringDownstreamOnly) {
  LL_REQUIRE_SHARED();
  for (const Family& f : kFamilies) {
    auto s = open(f);
    s->resetCache();
    auto base = s->run();
    const int T = base->nTokens, L = base->nLayer, d = base->nEmbd, V = base->nVocab;
    const int l = defaultSteeringLayer(L), from = 10;
    QVERIFY(l >= 0 && l < L);
    // A vector half as long as the stream there, so every family is pushed alike.
    double meanNorm = 0;
    for (int t = 0; t < T; ++t) {
      double ss = 0;
      for (int i = 0; i < d; ++i) ss += std::pow(residAfter(*base, l, t)[i], 2);
      meanNorm += std::sqrt(ss) / T;
    }
    std::vector<float> v(d);
    double nv = 0;
    for (int i = 0; i < d; ++i) v[i] = std::sin(0.3f * i + 0.1f), nv += double(v[i]) * v[i];
    for (float& x : v) x *= float(0.5 * meanNorm / std::sqrt(nv));
    QVERIFY(std::fabs(pushRatio(*base, l, v, 1.0f) - 0.5) < 1e-3);

    RunRequest rq;
    rq.interventions.steering.push_back({l, 0.0f, from, v});
    s->resetCache();
    auto zero = s->run(rq);
    QVERIFY2(maxAbsDiff(zero->logits, base->logits) < kSame, where(f));
    for (int k = 0; k < L; ++k)
      QVERIFY(maxAbsDiff(zero->layers[k].resid, base->layers[k].resid) < kSame);

    const float alpha = 1.5f;
    rq.interventions.steering[0].alpha = alpha;
    s->resetCache();
    auto st = s->run(rq);
    for (int k = 0; k < l; ++k)
      QVERIFY2(maxAbsDiff(st->layers[k].resid, base->layers[k].resid) < kSame, where(f, k));
    for (int k = l; k < L; ++k)
      QVERIFY2(rowsDiff(st->layers[k].resid, base->layers[k].resid, d, 0, from) < kSame,
               where(f, k));
    for (int t = from; t < T; ++t)
      for (int i = 0; i < d; ++i) {
        const double got = residAfter(*st, l, t)[i] - residAfter(*base, l, t)[i];
        QVERIFY2(std::fabs(got - alpha * v[i]) < 1e-3 * (1 + meanNorm), where(f, l));
      }
    QVERIFY(rowsDiff(st->logits, base->logits, V, 0, from) < kSame);
    for (int t = from; t < T; ++t)
      QVERIFY2(rowsDiff(st->logits, base->logits, V, t, t + 1) > 1e-3,
               where(f) + " row " + std::to_string(t));

    const Steering steer{l, alpha, from, v};
    const SteeringReadout r = steeringReadout(*s, s->promptIds(), steer, 2);
    QCOMPARE(r.nLayers, L - l);
    QCOMPARE(r.ids.size(), size_t(T + 2));
    const double an = alpha * 0.5 * meanNorm;
    for (size_t c = 0; c < r.positions.size(); ++c) {
      QVERIFY2(std::fabs(r.diffNorm[c] - an) < 1e-3 * an, where(f));
      QVERIFY(std::fabs(r.cosineWithVector[c] - 1.0f) < 1e-4);
    }
    for (float x : r.diffNorm) QVERIFY(std::isfinite(x));
    // Vectors built on the family are finite and as wide as the stream.
    const auto once = anatest::refIds(f.ref, "once");
    const auto cv = contrastiveVector(*s, l, {s->promptIds()}, {once});
    const auto ci = conceptVector(*s, l, ConceptInput{s->promptIds(), {once}});
    QCOMPARE(cv.size(), size_t(d));
    QCOMPARE(ci.size(), size_t(d));
    for (size_t i = 0; i < cv.size(); ++i) QVERIFY(std::isfinite(cv[i]) && std::isfinite(ci[i]));
  }
}

// Knockout of the last query's edge to a key inside every window, in one layer: rows before the
// last and the last row's earlier layers unchanged, the last row changed from that layer on, the
// map shows the edge at 0; attentionKnockout reports the base and new probability of the answer.
// At a windowed layer, knocking out a key the window already hides changes nothing.
LL_TEST(knockoutChangesExactlyItsRows) {
  LL_REQUIRE_SHARED();
  for (const Family& f : kFamilies) {
    auto s = open(f);
    s->resetCache();
    auto base = s->run();
    const int T = base->nTokens, L = base->nLayer, d = base->nEmbd, V = base->nVocab;
    const ModelSpec& sp = s->model().spec;
    const int lk = L / 2;
    RunRequest rq;
    rq.interventions.knockout = Knockout{{T - 1}, {T - 3}, lk, lk + 1};
    s->resetCache();
    auto ko = s->run(rq);
    for (int k = 0; k < L; ++k) {
      QVERIFY2(rowsDiff(ko->layers[k].resid, base->layers[k].resid, d, 0, T - 1) < kSame,
               where(f, k));
      const double last = rowsDiff(ko->layers[k].resid, base->layers[k].resid, d, T - 1, T);
      if (k < lk)
        QVERIFY2(last < kSame, where(f, k));
      else if (k == lk)
        QVERIFY2(last > 1e-3, where(f, k));
    }
    QVERIFY(rowsDiff(ko->logits, base->logits, V, 0, T - 1) < kSame);
    QVERIFY(rowsDiff(ko->logits, base->logits, V, T - 1, T) > 1e-4);
    for (int h = 0; h < ko->nHead; ++h) {
      const auto m = s->attentionMap(*ko, lk, h);
      QCOMPARE(m[size_t(T - 1) * T + T - 3], 0.0f);
      QVERIFY(m[size_t(T - 1) * T + T - 2] > 0.0f);
      QVERIFY(m[size_t(T - 2) * T + T - 3] > 0.0f);  // other queries still see it
    }
    const KnockoutResult kr = attentionKnockout(*s, {T - 1}, {T - 3}, lk, 1);
    QCOMPARE(kr.layerBegin, lk);
    QCOMPARE(kr.layerEnd, lk + 1);
    QCOMPARE(kr.answer, argmax(base->logitsRow(T - 1), V));
    const auto pb = softmax(base->logitsRow(T - 1), V), pn = softmax(ko->logitsRow(T - 1), V);
    QVERIFY(std::fabs(kr.pBase - pb[kr.answer]) < 1e-5);
    QVERIFY(std::fabs(kr.pNew - pn[kr.answer]) < 1e-5);
    QVERIFY(std::fabs(kr.relativeChange - 100 * (kr.pNew - kr.pBase) / kr.pBase) < 1e-6);

    // Windowed layers only: token 0 is outside the last query's window there.
    std::vector<int> wls;
    for (int l = 0; l < L; ++l)
      if (sp.layerWindow(l) > 0 && T - 1 >= sp.layerWindow(l)) wls.push_back(l);
    if (wls.empty()) continue;
    rq.interventions = {};
    for (int l : wls) rq.interventions.masks.push_back(Knockout{{T - 1}, {0}, l, l + 1});
    s->resetCache();
    auto noop = s->run(rq);
    QVERIFY2(maxAbsDiff(noop->logits, base->logits) < kSame, where(f));
  }
}

// MoE families: routing probabilities and applied weights sum to one per token (qwen3moe
// renormalises softmax -> top-k; gpt-oss is the softmax over the k chosen biased logits), load
// sums to k, mean routing to 1; a banned expert is never chosen, a forced one always, soft
// promotion raises its probability, and every edit changes the output.
LL_TEST(routingOnMoeFamilies) {
  LL_REQUIRE_SHARED();
  for (const Family& f : kFamilies) {
    auto s = open(f);
    auto base = s->run();
    const ModelSpec& sp = s->model().spec;
    if (sp.nExpert == 0) {  // dense: the statistics say so rather than return zeros
      bool threw = false;
      try {
        moeLayers(*base);
      } catch (const std::invalid_argument& e) {
        threw = std::string(e.what()).find("no experts") != std::string::npos;
      }
      QVERIFY(threw);
      continue;
    }
    const int T = base->nTokens, L = base->nLayer, E = base->nExpert, k = base->nExpertUsed;
    QCOMPARE(moeLayers(*base).size(), size_t(L));
    const auto load = expertLoad(*base), mean = meanRouting(*base);
    for (int l = 0; l < L; ++l) {
      const auto& Lt = base->layers[l];
      const auto te = tokenExpertMatrix(*base, l);
      double ls = 0, ms = 0;
      for (int e = 0; e < E; ++e) ls += load[size_t(l) * E + e], ms += mean[size_t(l) * E + e];
      QVERIFY(std::fabs(ls - k) < 1e-5);
      QVERIFY(std::fabs(ms - 1) < 1e-5);
      for (int t = 0; t < T; ++t) {
        double ps = 0, ws = 0, rs = 0;
        int nz = 0;
        for (int e = 0; e < E; ++e) {
          ps += Lt.routerProbs[size_t(t) * E + e];
          rs += te[size_t(t) * E + e];
          nz += te[size_t(t) * E + e] > 0;
        }
        // The weights the model applies: softmax of the chosen logits, descending.
        double z = 0;
        for (int j = 0; j < k; ++j) {
          ws += Lt.expertWeights[size_t(t) * k + j];
          z += std::exp(double(Lt.routerLogits[size_t(t) * E + Lt.experts[size_t(t) * k + j]]));
          if (j)
            QVERIFY(Lt.expertWeights[size_t(t) * k + j] <= Lt.expertWeights[size_t(t) * k + j - 1]);
        }
        for (int j = 0; j < k; ++j) {
          const double want =
              std::exp(double(Lt.routerLogits[size_t(t) * E + Lt.experts[size_t(t) * k + j]])) / z;
          QVERIFY2(std::fabs(Lt.expertWeights[size_t(t) * k + j] - want) < 1e-5, where(f, l));
        }
        QVERIFY(std::fabs(ps - 1) < 1e-5);
        QVERIFY(std::fabs(ws - 1) < 1e-5);
        QVERIFY(std::fabs(rs - 1) < 1e-5);
        QCOMPARE(nz, k);
      }
    }
    for (int n : expertsPerToken(*base, 0.9f)) QVERIFY(n >= 1 && n <= E);
    QCOMPARE(routingJsd(*base, *base), std::vector<float>(size_t(L), 0.0f));
    const auto lm = layerExpertMatrix(*base, 7);
    const auto t0 = tokenExpertMatrix(*base, 0);
    for (int e = 0; e < E; ++e) QCOMPARE(lm[e], t0[size_t(7) * E + e]);

    // Ban the most used expert of layer 0 everywhere.
    const int victim = int(std::max_element(load.begin(), load.begin() + E) - load.begin());
    std::vector<std::pair<int, int>> every;
    for (int l = 0; l < L; ++l) every.emplace_back(l, victim);
    RunRequest rq;
    rq.interventions.router = switchOff(every);
    auto off = s->run(rq);
    for (int l = 0; l < L; ++l)
      for (int t = 0; t < T; ++t) {
        QCOMPARE(off->layers[l].routerProbs[size_t(t) * E + victim], 0.0f);
        for (int j = 0; j < k; ++j) QVERIFY(off->layers[l].experts[size_t(t) * k + j] != victim);
      }
    QVERIFY2(maxAbsDiff(off->logits, base->logits) > 1e-3, where(f));
    // Force an expert no token chose in the last layer: every token now uses it first.
    int unused = -1;
    for (int e = 0; e < E && unused < 0; ++e)
      if (load[size_t(L - 1) * E + e] == 0) unused = e;
    if (unused < 0) unused = int(std::min_element(load.end() - E, load.end()) - (load.end() - E));
    rq.interventions.router = hardForce({{L - 1, unused}});
    auto fo = s->run(rq);
    for (int t = 0; t < T; ++t) QCOMPARE(fo->layers[L - 1].experts[size_t(t) * k], unused);
    QVERIFY2(maxAbsDiff(fo->logits, base->logits) > 1e-3, where(f));
    for (int l = 0; l < L - 1; ++l) QCOMPARE(fo->layers[l].experts, base->layers[l].experts);
    // Soft promotion raises the promoted expert's probability at every token.
    rq.interventions.router = softPromotion({{0, unused}}, 1.0f);
    auto sp1 = s->run(rq);
    for (int t = 0; t < T; ++t)
      QVERIFY(sp1->layers[0].routerProbs[size_t(t) * E + unused] >
              base->layers[0].routerProbs[size_t(t) * E + unused]);
    // The statistics see the edit: the JSD between the runs is positive in the forced layer.
    QVERIFY(routingJsd(*base, *fo)[L - 1] > 0);
  }
}

// Depth usage: shapes, norms from the trace, delta = the change of the norm.
LL_TEST(depthUsageShapes) {
  LL_REQUIRE_SHARED();
  for (const Family& f : kFamilies) {
    auto s = open(f);
    auto tr = s->run();
    const int T = tr->nTokens, L = tr->nLayer, d = tr->nEmbd;
    const DepthUsage u = depthUsage(*tr);
    QCOMPARE(u.norm.size(), size_t(L + 1) * T);
    QCOMPARE(u.active.size(), size_t(L) * T);
    for (int t = 0; t < T; ++t) {
      double ss = 0;
      for (int i = 0; i < d; ++i) ss += std::pow(residAfter(*tr, L - 1, t)[i], 2);
      QVERIFY(std::fabs(u.norm[size_t(L) * T + t] - std::sqrt(ss)) < 1e-3 * std::sqrt(ss));
      for (int l = 0; l < L; ++l) {
        const size_t m = size_t(l) * T + t;
        QVERIFY(std::fabs(u.delta[m] - (u.norm[m + T] - u.norm[m])) < 1e-3 * (1 + u.norm[m]));
        QVERIFY(std::isfinite(u.relative[m]) && u.relative[m] >= 0);
      }
    }
  }
}

// The sentence a token-subset run gets on a windowed model, and the engine behaviour it describes:
// the window counts the kept tokens' cache indices, so a kept token sees kept tokens more than
// `window` positions back.
LL_TEST(subsetWindowCountsCacheIndices) {
  LL_REQUIRE_SHARED();
  auto g = open(kFamilies[2]);  // gemma2: window 8 on even layers
  const ModelSpec& sp = g->model().spec;
  QCOMPARE(sp.window, 8);
  std::vector<int> every2;
  for (int i = 0; i < 27; i += 2) every2.push_back(i);
  const auto w = subsetWarnings(sp, every2, true);
  QCOMPARE(w.size(), size_t(1));
  // Kept token 4 (position 8) is the first whose window (cache indices 0..4) reaches a kept token
  // 8 positions back: position 0; by position only those from 1 on.
  QVERIFY2(w[0].find("cache indices") != std::string::npos &&
               w[0].find("llama.cpp") != std::string::npos &&
               w[0].find("window 8") != std::string::npos &&
               w[0].find("position 8 sees kept tokens back to position 0, by position only "
                         "those from 1 on") != std::string::npos,
           w[0]);
  const auto re = subsetWarnings(sp, every2, false);
  QCOMPARE(re.size(), size_t(1));
  QVERIFY2(re[0].find("re-indexed") != std::string::npos, re[0]);
  // Contiguous tokens, or a model without windows: nothing to say.
  std::vector<int> run(20);
  std::iota(run.begin(), run.end(), 3);
  QVERIFY(subsetWarnings(sp, run, true).empty());
  QVERIFY(subsetWarnings(open(kFamilies[0])->model().spec, every2, true).empty());
  QVERIFY(windowedLayersText(sp).find("layers 0, 2, 4, ..., 24 (13 layers, window 8)") == 0);

  // The engine: layer 0 (windowed) of the subset run, last kept token (cache index 13, position
  // 26) attends cache index 6 (position 12, 14 positions back) but not 5.
  RunRequest rq;
  rq.subset = TokenSubset{every2, true};
  auto tr = g->run(rq);
  QCOMPARE(tr->nTokens, 14);
  QCOMPARE(tr->positions[13], 26);
  for (int h = 0; h < tr->nHead; ++h) {
    const auto m = g->attentionMap(*tr, 0, h);
    QVERIFY(m[size_t(13) * 14 + 6] > 0.0f);
    QCOMPARE(m[size_t(13) * 14 + 5], 0.0f);
  }
}

LL_TEST_MAIN("tst_families_analyses")
