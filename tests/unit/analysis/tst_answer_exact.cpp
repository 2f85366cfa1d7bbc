// PromptDistill (ALGORITHMS.md §5) computed literally in this test, beside the engine's masked
// full-length run: the prompt runs normally up to the first stage's layer (the engine's unmasked
// trace, which the parity tests check against llama.cpp), then the KEPT tokens' hidden states
// continue alone through the later layers with their original positions, each later stage gathers
// its survivors, and greedy decoding uses per-layer KV caches holding what each layer saw (minus
// the trimmed stages' dropped tokens). The continuation is plain loops over the model's weights
// (double accumulation, RoPE from kernels/reference); nothing of the engine's layer code or masks
// is used. Compared: each stage's scores and kept set, the logits of every surviving prompt row and
// of every generated row, and the greedy tokens; stories260K (dense, GQA) and stories260K-moe4
// (MoE).
#include <algorithm>
#include <cstdio>
#include <functional>
#include <numeric>

#include "ana_common.h"
#include "kernels/reference/reference_ops.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

using Vec = std::vector<double>;

std::string blk(int l, const std::string& what) {
  return "blk." + std::to_string(l) + "." + what;
}

// Rows [row0, row0 + rows) of a [*, cols] f32 matrix times x.
Vec matvec(const std::vector<float>& w, size_t row0, int rows, int cols, const Vec& x) {
  Vec y(size_t(rows), 0.0);
  for (int r = 0; r < rows; ++r) {
    const float* wr = w.data() + (row0 + size_t(r)) * cols;
    double s = 0;
    for (int c = 0; c < cols; ++c) s += double(wr[c]) * x[size_t(c)];
    y[size_t(r)] = s;
  }
  return y;
}

// One llama-style model (RMSNorm, RoPE, GQA, SwiGLU dense or top-k MoE) run row by row.
class Literal {
 public:
  struct Entry {
    int token;  // prompt index (or T + g for generated tokens)
    Vec k, v;
  };
  using Cache = std::vector<Entry>;

  explicit Literal(const Model& m) : m_m(m), s(m.spec) {}

  const std::vector<float>& w(const std::string& name) {
    auto& x = m_w[name];
    if (x.empty()) x = anatest::tensorF32(m_m, name);
    return x;
  }
  Vec rms(const Vec& x, const std::string& name) {
    const auto& g = w(name);
    double ss = 0;
    for (double v : x) ss += v * v;
    const double r = 1.0 / std::sqrt(ss / double(x.size()) + double(s.normEps));
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * r * g[i];
    return y;
  }
  Vec rope(const Vec& x, int nHead, int pos) {
    std::vector<float> f(x.begin(), x.end());
    ll::kern::RopeParams rp = s.rope;
    if (rp.nRot <= 0) rp.nRot = s.headDim;
    const int32_t p = pos;
    ll::kern::ref::rope(f.data(), &p, 1, nHead, s.headDim, rp);
    return Vec(f.begin(), f.end());
  }
  // v of a row whose layer input is `in` (the caches of the unmasked prefix need it).
  Vec value(int l, const Vec& in) {
    return matvec(w(blk(l, "attn_v.weight")), 0, s.nHeadKv * s.headDim, s.nEmbd,
                  rms(in, blk(l, "attn_norm.weight")));
  }
  Vec ffn(const std::string& g, const std::string& u, const std::string& dn, size_t e, int ff,
          const Vec& h) {
    const Vec a = matvec(w(g), e * ff, ff, s.nEmbd, h), b = matvec(w(u), e * ff, ff, s.nEmbd, h);
    Vec act(static_cast<size_t>(ff));
    for (int i = 0; i < ff; ++i) act[i] = a[i] / (1.0 + std::exp(-a[i])) * b[i];
    return matvec(w(dn), e * s.nEmbd, s.nEmbd, ff, act);
  }
  // Layer l for one row at `pos`: appends its k/v to the cache, attends over the whole cache (the
  // caller keeps only what the row may see; `visible(kvHead, token)`, when given, hides more per
  // kv head), returns the layer's output. q: post-RoPE query.
  using Visible = std::function<bool(int, int)>;
  Vec layer(int l, const Vec& x, int token, int pos, Cache& cache, Vec* qOut = nullptr,
            const Visible& visible = {}) {
    const int d = s.nEmbd, H = s.nHead, hd = s.headDim, qd = H * hd, kvd = s.nHeadKv * hd;
    const Vec h = rms(x, blk(l, "attn_norm.weight"));
    const Vec q = rope(matvec(w(blk(l, "attn_q.weight")), 0, qd, d, h), H, pos);
    cache.push_back({token, rope(matvec(w(blk(l, "attn_k.weight")), 0, kvd, d, h), s.nHeadKv, pos),
                     matvec(w(blk(l, "attn_v.weight")), 0, kvd, d, h)});
    if (qOut) *qOut = q;
    Vec att(size_t(qd), 0.0);
    const double scale = 1.0 / std::sqrt(double(hd));
    for (int hh = 0; hh < H; ++hh) {
      const int g = hh / (H / s.nHeadKv);
      Vec sc(cache.size());
      double mx = -INFINITY;
      for (size_t j = 0; j < cache.size(); ++j) {
        if (visible && !visible(g, cache[j].token)) {
          sc[j] = -INFINITY;
          continue;
        }
        double dot = 0;
        for (int c = 0; c < hd; ++c) dot += q[size_t(hh) * hd + c] * cache[j].k[size_t(g) * hd + c];
        sc[j] = dot * scale;
        mx = std::max(mx, sc[j]);
      }
      double z = 0;
      for (double& v : sc) z += (v = std::exp(v - mx));
      for (size_t j = 0; j < cache.size(); ++j)
        for (int c = 0; c < hd; ++c)
          att[size_t(hh) * hd + c] += sc[j] / z * cache[j].v[size_t(g) * hd + c];
    }
    Vec y = x;
    const Vec o = matvec(w(blk(l, "attn_output.weight")), 0, d, qd, att);
    for (int i = 0; i < d; ++i) y[i] += o[i];
    const Vec hn = rms(y, blk(l, "ffn_norm.weight"));
    Vec f(size_t(d), 0.0);
    if (s.nExpert > 0) {
      const int E = s.nExpert, k = s.nExpertUsed;
      Vec z = matvec(w(blk(l, "ffn_gate_inp.weight")), 0, E, d, hn);
      const double mz = *std::max_element(z.begin(), z.end());
      double sum = 0;
      for (double& v : z) sum += (v = std::exp(v - mz));
      for (double& v : z) v /= sum;
      std::vector<int> order(E);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return z[a] > z[b]; });
      double top = 0;
      for (int j = 0; j < k; ++j) top += z[order[j]];
      for (int j = 0; j < k; ++j) {
        const int e = order[j];
        const double wt = s.expertWeightsNorm ? z[e] / top : z[e];
        const Vec fe = ffn(blk(l, "ffn_gate_exps.weight"), blk(l, "ffn_up_exps.weight"),
                           blk(l, "ffn_down_exps.weight"), size_t(e), s.nFfExpert, hn);
        for (int i = 0; i < d; ++i) f[i] += wt * fe[i];
      }
    } else {
      f = ffn(blk(l, "ffn_gate.weight"), blk(l, "ffn_up.weight"), blk(l, "ffn_down.weight"), 0,
              s.nFf, hn);
    }
    for (int i = 0; i < d; ++i) y[i] += f[i];
    return y;
  }
  std::vector<float> logits(const Vec& x) {
    const std::string out =
        m_m.weights.find("output.weight") ? "output.weight" : "token_embd.weight";
    const Vec y = matvec(w(out), 0, s.nVocab, s.nEmbd, rms(x, "output_norm.weight"));
    return std::vector<float>(y.begin(), y.end());
  }

 private:
  const Model& m_m;
  std::map<std::string, std::vector<float>> m_w;

 public:
  const ModelSpec& s;
};

Vec row(const std::vector<float>& a, int i, int n) {
  return Vec(a.begin() + size_t(i) * n, a.begin() + size_t(i + 1) * n);
}

struct Figures {
  double maxLogitDiff = 0;
  size_t rowsCompared = 0;
};

// Stages (layer, k) selected by the engine (promptDistill) and checked here stage by stage; then
// the continuation and `gen` greedy tokens under each KV-trim setting.
Figures checkDistill(const std::string& file, const std::string& refModel,
                     const std::string& prompt, const std::string& stages, int gen) {
  auto s = anatest::session(file, refModel, prompt);
  const Model& m = s->model();
  Literal lit(m);
  const ModelSpec& sp = m.spec;
  const auto ids = s->promptIds();
  const int T = static_cast<int>(ids.size()), L = sp.nLayer, d = sp.nEmbd, V = sp.nVocab;
  const int qd = sp.nHead * sp.headDim, kvd = sp.nHeadKv * sp.headDim;
  const auto st = parseStages(stages);
  const DistillResult r = promptDistill(*s, st);
  std::vector<int> layers;
  for (const auto& x : st) layers.push_back(x.layer);
  auto full = runIds(*s, ids);  // unmasked, captured

  Figures fig;
  for (int trim : {0, 1, -1}) {
    const int nTrim = trim < 0 ? static_cast<int>(st.size()) : trim;
    // --- prompt: layers 0..l_1 from the unmasked trace, then the survivors alone -------------
    std::vector<Literal::Cache> cache(L);
    const int l1 = layers[0];
    for (int l = 0; l <= l1; ++l)
      for (int j = 0; j < T; ++j) {
        const Vec in = l == 0 ? row(full->embd, j, d) : row(full->layers[l - 1].resid, j, d);
        cache[l].push_back({j, row(full->layers[l].k, j, kvd), lit.value(l, in)});
      }
    std::vector<int> set = r.keptPerStage[0];
    std::map<int, Vec> x;
    for (int j : set) x[j] = row(full->layers[l1].resid, j, d);
    size_t stage = 1;
    for (int l = l1 + 1; l < L; ++l) {
      std::vector<float> q(size_t(T) * qd, 0.0f), k(size_t(T) * kvd, 0.0f);
      for (int j : set) {
        Vec qj;
        x[j] = lit.layer(l, x[j], j, j, cache[l], &qj);
        std::copy(qj.begin(), qj.end(), q.begin() + size_t(j) * qd);
        std::copy(cache[l].back().k.begin(), cache[l].back().k.end(), k.begin() + size_t(j) * kvd);
      }
      if (stage < st.size() && layers[stage] == l) {
        // This stage's selection from the continuation's own Q/K at its layer.
        QkView v{q.data(),
                 k.data(),
                 T,
                 sp.nHead,
                 sp.nHeadKv,
                 sp.headDim,
                 float(1.0 / std::sqrt(double(sp.headDim))),
                 0,
                 nullptr};
        Selection sel = promptDistillStage(v, set, st[stage].k, 5);
        QCOMPARE(sel.kept, r.keptPerStage[stage]);
        QVERIFY2(anatest::maxRel(r.scoresPerStage[stage], Vec(sel.scores.begin(), sel.scores.end()),
                                 1e-3) < 1e-4,
                 "stage scores differ from the literal continuation's");
        set = sel.kept;
        ++stage;
      }
    }
    // KV trim: the trimmed stages' dropped tokens leave the caches of layers <= their layer.
    std::vector<int> prev(T);
    std::iota(prev.begin(), prev.end(), 0);
    for (size_t si = 0; si < st.size(); ++si) {
      std::vector<int> drop;
      std::set_difference(prev.begin(), prev.end(), r.keptPerStage[si].begin(),
                          r.keptPerStage[si].end(), std::back_inserter(drop));
      if (static_cast<int>(si) < nTrim)
        for (int l = 0; l <= layers[si]; ++l)
          std::erase_if(cache[l], [&](const Literal::Entry& e) {
            return std::binary_search(drop.begin(), drop.end(), e.token);
          });
      prev = r.keptPerStage[si];
    }

    // --- the engine's masked full-length run, with the literal route's greedy tokens appended --
    std::vector<std::vector<float>> want;  // literal logits: survivors, then generated rows
    for (int j : set) want.push_back(lit.logits(x[j]));
    std::vector<int32_t> seq = ids, gened;
    for (int g = 0; g < gen; ++g) {
      const auto& lg = want.back();
      const int32_t tok = int32_t(std::max_element(lg.begin(), lg.end()) - lg.begin());
      gened.push_back(tok);
      if (g + 1 == gen) break;
      seq.push_back(tok);
      // The generated token at position T + g through every layer's (trimmed) cache.
      Vec h(static_cast<size_t>(d));
      const auto& emb = lit.w("token_embd.weight");
      for (int i = 0; i < d; ++i) h[i] = emb[size_t(tok) * d + i];
      for (int l = 0; l < L; ++l) h = lit.layer(l, h, T + g, T + g, cache[l]);
      want.push_back(lit.logits(h));
    }
    const Interventions iv = distillInterventions(T, layers, r.keptPerStage, trim, L);
    auto tr = runIds(*s, seq, iv, false);
    // What the check would miss: the same tokens without masks, and without the trim.
    auto plain = runIds(*s, seq, {}, false);
    auto noTrim = runIds(*s, seq, distillInterventions(T, layers, r.keptPerStage, 0, L), false);
    std::vector<int> rows = set;
    for (int g = 0; g + 1 < gen; ++g) rows.push_back(T + g);
    QCOMPARE(rows.size(), want.size());
    double worst = 0, maskEffect = 0, trimEffect = 0;
    for (size_t i = 0; i < rows.size(); ++i)
      for (int v = 0; v < V; ++v) {
        const size_t at = size_t(rows[i]) * V + v;
        worst = std::max(worst, double(std::fabs(tr->logits[at] - want[i][v])));
        maskEffect = std::max(maskEffect, double(std::fabs(tr->logits[at] - plain->logits[at])));
        trimEffect = std::max(trimEffect, double(std::fabs(tr->logits[at] - noTrim->logits[at])));
      }
    std::printf(
        "INFO   : %s %s stages %s kv-trim %d: max |logit diff| %.3g over %zu rows (masks "
        "move logits by %.3g, the trim by %.3g)\n",
        refModel.c_str(), prompt.c_str(), stages.c_str(), trim, worst, rows.size(), maskEffect,
        trimEffect);
    QVERIFY2(worst < 2e-4, "masked run differs from the literal continuation");
    QVERIFY2(maskEffect > 1e-2, "the masks changed nothing: the check would not see them");
    QVERIFY2(trim == 0 || trimEffect > 1e-3, "the KV trim changed nothing");
    fig.maxLogitDiff = std::max(fig.maxLogitDiff, worst);
    fig.rowsCompared += rows.size();
    // The CLI's answer path (greedy with prefix reuse) gives the literal route's tokens.
    Answers a = answerDistilled(*s, layers, r.keptPerStage, trim, gen);
    QCOMPARE(a.compressed, gened);
  }
  return fig;
}

}  // namespace

LL_TEST(distillThreeStagesDense) {
  LL_REQUIRE_SHARED();
  checkDistill("stories260K.gguf", "stories260K", "long300", "0:150,1:80,3:30", 6);
}

LL_TEST(distillTwoStagesDense) {
  LL_REQUIRE_SHARED();
  checkDistill("stories260K.gguf", "stories260K", "park", "2:12,3:6", 6);
}

LL_TEST(distillThreeStagesMoe) {
  LL_REQUIRE_SHARED();
  checkDistill("stories260K-moe4.gguf", "stories260K-moe4", "park", "0:18,2:10,3:5", 6);
}

// Stage layer -1 (continue from layer 0) is the kept tokens run alone at their original
// positions: the engine's TokenSubset path, logits and tokens.
LL_TEST(distillFromLayerZeroIsSubsetRun) {
  LL_REQUIRE_SHARED();
  for (const char* f : {"stories260K", "stories260K-moe4"}) {
    auto s = anatest::session(std::string(f) + ".gguf", f, "park");
    const auto ids = s->promptIds();
    const int T = static_cast<int>(ids.size()), V = s->model().spec.nVocab;
    std::vector<int> kept;
    for (int i = 0; i < T; ++i)
      if (i % 3 != 1 || i == T - 1) kept.push_back(i);
    const Interventions iv = distillInterventions(T, {-1}, {kept}, 0, s->model().spec.nLayer);
    auto masked = runIds(*s, ids, iv, false);
    RunRequest rq;
    rq.subset = TokenSubset{kept, true};
    rq.capture.enabled = false;
    auto sub = s->run(rq);
    double worst = 0;
    for (size_t i = 0; i < kept.size(); ++i)
      for (int v = 0; v < V; ++v)
        worst = std::max(worst, double(std::fabs(sub->logits[i * V + v] -
                                                 masked->logits[size_t(kept[i]) * V + v])));
    std::printf("INFO   : %s park layer -1: max |logit diff| vs subset run %.3g\n", f, worst);
    QVERIFY2(worst < 1e-4, "masked run differs from the subset run");
    GenerateRequest g;
    g.maxTokens = 6;
    g.subset = TokenSubset{kept, true};
    QCOMPARE(answerDistilled(*s, {-1}, {kept}, -1, 6).compressed, s->generate(g).ids);
  }
}

// SnapKV / H2O answers: full prefill (the unmasked trace), then each generated token attends, per
// layer and kv head, only the kept prompt positions and the generated tokens.
void checkEviction(const std::string& file, const std::string& refModel, const std::string& prompt,
                   bool snap, int budget, int window, int gen) {
  auto s = anatest::session(file, refModel, prompt);
  const Model& m = s->model();
  Literal lit(m);
  const ModelSpec& sp = m.spec;
  const auto ids = s->promptIds();
  const int T = static_cast<int>(ids.size()), L = sp.nLayer, d = sp.nEmbd, V = sp.nVocab;
  const int kvd = sp.nHeadKv * sp.headDim;
  auto full = runIds(*s, ids);
  std::vector<std::vector<std::vector<int>>> kept;
  const HeadEviction ev = snap ? snapKvEviction(*full, budget, window, 5, false, &kept)
                               : h2oEviction(*full, budget - window, window, &kept);
  QCOMPARE(kept.size(), size_t(L));
  size_t evicted = 0;
  for (int l = 0; l < L; ++l) {
    QCOMPARE(kept[l].size(), size_t(sp.nHeadKv));
    for (const auto& k : kept[l]) {
      QCOMPARE(k.size(), size_t(std::min(T, budget)));  // the budget per kv head
      for (int j = T - window; j < T; ++j) QVERIFY(std::binary_search(k.begin(), k.end(), j));
      evicted += size_t(T) - k.size();
    }
  }
  QVERIFY(evicted > 0);

  std::vector<Literal::Cache> cache(L);
  for (int l = 0; l < L; ++l)
    for (int j = 0; j < T; ++j) {
      const Vec in = l == 0 ? row(full->embd, j, d) : row(full->layers[l - 1].resid, j, d);
      cache[l].push_back({j, row(full->layers[l].k, j, kvd), lit.value(l, in)});
    }
  std::vector<float> last(full->logits.end() - V, full->logits.end());
  std::vector<std::vector<float>> want;
  std::vector<int32_t> seq = ids, gened;
  for (int g = 0; g < gen; ++g) {
    const auto& lg = want.empty() ? last : want.back();
    const int32_t tok = int32_t(std::max_element(lg.begin(), lg.end()) - lg.begin());
    gened.push_back(tok);
    if (g + 1 == gen) break;
    seq.push_back(tok);
    Vec h(static_cast<size_t>(d));
    const auto& emb = lit.w("token_embd.weight");
    for (int i = 0; i < d; ++i) h[i] = emb[size_t(tok) * d + i];
    for (int l = 0; l < L; ++l) {
      const auto& keep = ev.keep[size_t(l)];
      h = lit.layer(l, h, T + g, T + g, cache[l], nullptr, [&](int kvh, int token) {
        return token >= T || keep[size_t(kvh) * T + token] != 0;
      });
    }
    want.push_back(lit.logits(h));
  }
  Interventions iv;
  iv.eviction = ev;
  auto tr = runIds(*s, seq, iv, false);
  auto plain = runIds(*s, seq, {}, false);
  double worst = 0, effect = 0;
  for (int g = 0; g + 1 < gen; ++g)
    for (int v = 0; v < V; ++v) {
      const size_t at = size_t(T + g) * V + v;
      worst = std::max(worst, double(std::fabs(tr->logits[at] - want[size_t(g)][v])));
      effect = std::max(effect, double(std::fabs(tr->logits[at] - plain->logits[at])));
    }
  std::printf(
      "INFO   : %s %s %s budget %d window %d: max |logit diff| %.3g over %d generated "
      "rows (eviction moves logits by up to %.3g)\n",
      refModel.c_str(), prompt.c_str(), snap ? "snapkv" : "h2o", budget, window, worst, gen - 1,
      effect);
  QVERIFY2(worst < 2e-4, "evicted run differs from the literal per-head caches");
  QVERIFY2(effect > 1e-3, "the eviction changed nothing: the check would not see a wrong mask");
  QCOMPARE(answerEvicted(*s, ev, gen).compressed, gened);
}

LL_TEST(snapKvAnswerDense) {
  LL_REQUIRE_SHARED();
  checkEviction("stories260K.gguf", "stories260K", "long300", true, 64, 16, 6);
}

LL_TEST(h2oAnswerDense) {
  LL_REQUIRE_SHARED();
  checkEviction("stories260K.gguf", "stories260K", "long300", false, 64, 16, 6);
}

LL_TEST(snapKvAndH2oAnswersMoe) {
  LL_REQUIRE_SHARED();
  checkEviction("stories260K-moe4.gguf", "stories260K-moe4", "park", true, 12, 4, 6);
  checkEviction("stories260K-moe4.gguf", "stories260K-moe4", "park", false, 12, 4, 6);
}

// Statistics under mask lists: a pass that reuses a prefix computed under other masks (column sums
// = old sums - the old rows' share under the OLD masks + the new rows' share) equals a fresh pass,
// and the Session's attention maps (recomputed per mask segment) sum to those column sums.
LL_TEST(maskListStatisticsAndMaps) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  auto fresh = anatest::session("stories260K.gguf", "stories260K", "park");
  const auto ids = s->promptIds();
  const int T = static_cast<int>(ids.size()), L = s->model().spec.nLayer;
  const DistillResult r = promptDistill(*s, parseStages("1:14,3:8"));
  std::vector<int32_t> seq = ids;
  for (int32_t t : {5, 9, 13}) seq.push_back(t);
  const Interventions a = distillInterventions(T, {1, 3}, r.keptPerStage, 0, L);
  const Interventions b = distillInterventions(T, {1, 3}, r.keptPerStage, -1, L);
  std::vector<int32_t> pos(seq.size());
  std::iota(pos.begin(), pos.end(), 0);
  s->engine().run(seq, pos, a, CaptureOptions{});
  auto reused = s->engine().run(seq, pos, b, CaptureOptions{});
  QCOMPARE(reused->reusedRows, T);  // the trim masks act on rows >= T only
  auto want = fresh->engine().run(seq, pos, b, CaptureOptions{});
  QCOMPARE(want->reusedRows, 0);
  double worst = 0;
  for (int l = 0; l < L; ++l)
    for (size_t i = 0; i < want->layers[l].colSum.size(); ++i) {
      worst = std::max(worst,
                       double(std::fabs(reused->layers[l].colSum[i] - want->layers[l].colSum[i])));
      worst = std::max(
          worst, double(std::fabs(reused->layers[l].entropy[i] - want->layers[l].entropy[i])));
    }
  QVERIFY2(worst < 1e-5, "prefix reuse under mask lists: statistics differ");
  const int n = static_cast<int>(seq.size()), H = want->nHead;
  for (int l : {0, 2, 4}) {
    double dmax = 0;
    for (int h = 0; h < H; ++h) {
      const auto map = fresh->attentionMap(*want, l, h);
      for (int j = 0; j < n; ++j) {
        double col = 0;
        for (int i = 0; i < n; ++i) col += map[size_t(i) * n + j];
        dmax = std::max(dmax, std::fabs(col - want->layers[l].colSum[size_t(h) * n + j]));
      }
      // A generated row never attends a token the trimmed stage 1 dropped (layers <= 1) or
      // any dropped token (layers > 1).
      for (int i = T; i < n; ++i)
        for (int j = 0; j < T; ++j) {
          const auto& k = l <= 1 ? r.keptPerStage[0] : r.keptPerStage[l <= 3 ? 0 : 1];
          if (!std::binary_search(k.begin(), k.end(), j)) QCOMPARE(map[size_t(i) * n + j], 0.0f);
        }
    }
    QVERIFY2(dmax < 1e-4, "attention maps do not sum to the trace's column sums");
  }
}

LL_TEST(distillRejectsBadStages) {
  bool threw = false;
  try {
    distillInterventions(10, {2, 1}, {{0, 9}, {9}}, 0, 5);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY(threw);
  threw = false;
  try {
    distillInterventions(10, {1, 2}, {{0, 9}, {3, 9}}, 0, 5);  // 3 was dropped by stage 1
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY(threw);
  // Masks: stage s hides its drops after its layer; trimmed stages also before, for generated rows.
  const Interventions iv = distillInterventions(4, {0, 2}, {{1, 2, 3}, {3}}, 1, 5);
  QCOMPARE(iv.masks.size(), size_t(3));
  QCOMPARE(iv.masks[0], (Knockout{{}, {0}, 1, 5, 0}));
  QCOMPARE(iv.masks[1], (Knockout{{}, {0}, 0, 1, 4}));
  QCOMPARE(iv.masks[2], (Knockout{{}, {1, 2}, 3, 5, 0}));
}

LL_TEST_MAIN("tst_answer_exact")
