// Every analysis on every new family (qwen3, qwen3moe, gemma2, gemma3, phi3, gpt-oss), through the
// Session on the park prompt (27 tokens, longer than the fixtures' window of 8): the lens with and
// without the final norm (with it, the last row IS the model's output, Gemma 2's final soft-cap
// included), entropies in [0, ln V], the trace's attention statistics within each layer's window
// (and sink), token selections of the requested size and sorted, PromptDistill's stages and its
// continuation, GemFilter's compressed-prompt answer, and the warnings where a method is limited
// by the sliding window. Interventions and routing: tst_families_interventions.cpp.
#include "families_common.h"

using namespace famtest;

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

LL_TEST_MAIN("tst_families_analyses")
