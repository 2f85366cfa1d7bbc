// Interventions and routing on every new family (qwen3, qwen3moe, gemma2, gemma3, phi3, gpt-oss):
// steering (alpha 0 is the plain run; alpha != 0 moves the steered rows only, downstream of the
// steered layer), knockouts (exactly the rows they should; a key the window already hides is a
// no-op), routing statistics and router edits on the MoE families, depth usage, and how a
// token-subset run counts the sliding window.
#include "families_common.h"

using namespace famtest;

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

LL_TEST_MAIN("tst_families_interventions")
