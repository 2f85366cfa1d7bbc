// Layer skipping (§15) on stories260K and stories260K-moe4 against an independent computation:
// the skipped run must equal a plain run of a copy of the model whose skipped sublayer has zero
// output weights (an identity update), KL recomputed here in double; a zero update gives KL 0;
// runs with and without skips do not reuse each other's rows; update measures from plain loops.
#include <cmath>
#include <cstring>

#include "ana_common.h"
#include "runtime/analysis/layer_skip.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

// The model file with the output weights of layer l's attention and/or FFN (experts and shared
// experts included) set to zero: that sublayer then adds nothing to the residual stream.
std::shared_ptr<const Model> zeroedModel(const std::string& file, int l, SkipPart part) {
  std::shared_ptr<Model> m = loadModel(lltest::sharedDir() / "models" / file);
  const std::string blk = "blk." + std::to_string(l) + ".";
  std::vector<TensorData> zeroed;
  for (const auto& [name, t] : m->weights.all()) {
    const bool attn = name.rfind(blk + "attn_output", 0) == 0;
    const bool ffn = name.rfind(blk + "ffn_down", 0) == 0;
    if ((attn && part != SkipPart::Mlp) || (ffn && part != SkipPart::Attention)) {
      TensorData z = t;
      z.data = m->weights.own(std::vector<uint8_t>(t.nbytes, 0));  // zero bytes = zero values
      zeroed.push_back(z);
    }
  }
  if (zeroed.empty()) throw std::runtime_error("no output weights found for " + blk);
  for (auto& z : zeroed) m->weights.add(z);
  return m;
}

std::unique_ptr<Session> sessionOn(std::shared_ptr<const Model> m,
                                   const std::vector<int32_t>& ids) {
  auto s = std::make_unique<Session>();
  BackendChoice b;
  b.threads = 2;
  s->attach(std::move(m), b);
  s->setPromptIds(ids);
  return s;
}

// KL(softmax(a) || softmax(b)) written out plainly in double.
double plainKl(const float* a, const float* b, int n) {
  double ma = -1e300, mb = -1e300;
  for (int i = 0; i < n; ++i) ma = std::max(ma, double(a[i])), mb = std::max(mb, double(b[i]));
  double za = 0, zb = 0;
  for (int i = 0; i < n; ++i) za += std::exp(a[i] - ma), zb += std::exp(b[i] - mb);
  double kl = 0;
  for (int i = 0; i < n; ++i) {
    const double p = std::exp(a[i] - ma) / za, q = std::exp(b[i] - mb) / zb;
    if (p > 0) kl += p * std::log(p / q);
  }
  return kl;
}

int argmax(const float* x, int n) {
  int k = 0;
  for (int i = 1; i < n; ++i)
    if (x[i] > x[k]) k = i;
  return k;
}

void checkAgainstZeroedModel(const std::string& file, const std::string& ref, int l,
                             SkipPart part) {
  const auto ids = anatest::refIds(ref, "park");
  auto s = anatest::session(file, ref, "park");
  auto base = s->run();
  const int T = base->nTokens, V = base->nVocab, P = T - 3;
  const LayerSkipResult r = layerSkip(*s, *base, {P, part});
  QCOMPARE(r.nLayer, base->nLayer);
  QCOMPARE(static_cast<int>(r.kl.size()), base->nLayer);

  auto z = sessionOn(zeroedModel(file, l, part), ids);
  auto plain = z->run();
  // The engine's skipped run against the identity-layer model, row by row.
  Interventions iv;
  iv.skips.push_back({l, part});
  auto sk = runIds(*s, base->ids, iv, false, base->positions, true);
  double maxDiff = 0;
  for (size_t i = 0; i < size_t(T) * V; ++i)
    maxDiff = std::max(maxDiff, double(std::fabs(sk->logits.data()[i] - plain->logits.data()[i])));
  QVERIFY2(maxDiff < 1e-4,
           file + " layer " + std::to_string(l) + ": max logit diff " + std::to_string(maxDiff));

  double sum = 0;
  for (int t = 0; t < T; ++t) sum += plainKl(base->logitsRow(t), plain->logitsRow(t), V);
  const double klP = plainKl(base->logitsRow(P), plain->logitsRow(P), V);
  QVERIFY2(std::fabs(r.kl[l] - klP) <= 1e-5 + 1e-3 * klP,
           std::to_string(r.kl[l]) + " vs " + std::to_string(klP));
  QVERIFY(std::fabs(r.klMean[l] - sum / T) <= 1e-5 + 1e-3 * sum / T);
  QVERIFY(klP > 1e-6);  // the layer matters: the comparison above is not 0 against 0
  const int top1 = argmax(base->logitsRow(P), V), top1Skip = argmax(plain->logitsRow(P), V);
  QCOMPARE(r.top1, top1);
  QCOMPARE(r.top1Skip[l], top1Skip);
  QCOMPARE(r.top1Changed[l] != 0, top1 != top1Skip);

  // A layer whose update is zero: skipping it changes nothing.
  const LayerSkipResult rz = layerSkip(*z, *plain, {P, part});
  QVERIFY2(rz.kl[l] < 1e-12 && rz.klMean[l] < 1e-12, std::to_string(rz.kl[l]));
  QVERIFY(!rz.top1Changed[l]);
  if (part == SkipPart::Layer) QVERIFY(rz.relUpdate[l] < 1e-7);
}

}  // namespace

LL_TEST(skipMatchesIdentityLayerDense) {
  LL_REQUIRE_SHARED();
  for (SkipPart part : {SkipPart::Layer, SkipPart::Attention, SkipPart::Mlp})
    checkAgainstZeroedModel("stories260K.gguf", "stories260K", 2, part);
  checkAgainstZeroedModel("stories260K.gguf", "stories260K", 0, SkipPart::Layer);
}

LL_TEST(skipMatchesIdentityLayerMoe) {
  LL_REQUIRE_SHARED();
  for (SkipPart part : {SkipPart::Layer, SkipPart::Attention, SkipPart::Mlp})
    checkAgainstZeroedModel("stories260K-moe4.gguf", "stories260K-moe4", 1, part);
}

// Skipped runs and plain runs on one engine: the prefix reuse never mixes their rows.
LL_TEST(noSkipEqualsNormalRunAndReuseIsCut) {
  LL_REQUIRE_SHARED();
  auto fresh = anatest::session("stories260K.gguf", "stories260K", "park");
  auto normal = fresh->run();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  RunRequest skip;
  skip.interventions.skips.push_back({3, SkipPart::Layer});
  auto a = s->run(skip);
  QCOMPARE(a->reusedRows, 0);
  auto b = s->run();  // after a skipped pass: recomputed, equal to the fresh normal run
  QCOMPARE(b->reusedRows, 0);
  const size_t n = normal->logits.size();
  QCOMPARE(b->logits.size(), n);
  for (size_t i = 0; i < n; ++i) QVERIFY(b->logits.data()[i] == normal->logits.data()[i]);
  auto fs = anatest::session("stories260K.gguf", "stories260K", "park");
  auto c = s->run(skip);  // after a normal pass: equal to a fresh skipped run
  auto freshSkip = fs->run(skip);
  for (size_t i = 0; i < n; ++i) QVERIFY(c->logits.data()[i] == freshSkip->logits.data()[i]);
  bool differs = false;
  for (size_t i = 0; i < n && !differs; ++i)
    differs = c->logits.data()[i] != normal->logits.data()[i];
  QVERIFY(differs);
}

// rel_update and cos from plain loops over the trace's residual streams; all positions' KL mean.
LL_TEST(updateMeasuresAndBadInput) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  auto base = s->run();
  const int T = base->nTokens, d = base->nEmbd;
  const LayerSkipResult r = layerSkip(*s, *base, {});
  QCOMPARE(r.position, T - 1);
  for (int l = 0; l < base->nLayer; ++l) {
    const float* prev =
        (l == 0 ? base->embd.data() : base->layers[l - 1].resid.data()) + size_t(T - 1) * d;
    const float* cur = base->layers[l].resid.data() + size_t(T - 1) * d;
    double dd = 0, pp = 0, dp = 0;
    for (int i = 0; i < d; ++i) {
      const double x = double(cur[i]) - prev[i];
      dd += x * x, pp += double(prev[i]) * prev[i], dp += x * prev[i];
    }
    QVERIFY(anatest::relDiff(r.relUpdate[l], std::sqrt(dd / pp)) < 1e-5);
    QVERIFY(std::fabs(r.cosUpdate[l] - dp / std::sqrt(dd * pp)) < 1e-5);
    QVERIFY(r.kl[l] >= 0 && r.klMean[l] >= 0);
  }
  QVERIFY(r.active[0]);  // layer 0 always counts as active (§11)
  // Another position read from the same passes equals a fresh analysis at that position.
  LayerSkipResult moved = r;
  selectPosition(*base, moved, 2);
  const LayerSkipResult at2 = layerSkip(*s, *base, {2, SkipPart::Layer});
  for (int l = 0; l < base->nLayer; ++l) {
    QVERIFY(moved.kl[l] == at2.kl[l] && moved.klMean[l] == at2.klMean[l]);
    QVERIFY(moved.top1Changed[l] == at2.top1Changed[l] && moved.relUpdate[l] == at2.relUpdate[l]);
  }
  QCOMPARE(moved.top1, at2.top1);
  bool threw = false;
  try {
    layerSkip(*s, *base, {T, SkipPart::Layer});
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY(threw);
  threw = false;
  try {
    RunRequest bad;
    bad.interventions.skips.push_back({base->nLayer, SkipPart::Mlp});
    s->run(bad);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY(threw);
  QCOMPARE(parseSkipPart("attn"), SkipPart::Attention);
  QCOMPARE(skipPartName(parseSkipPart("mlp")), std::string("mlp"));
}

LL_TEST_MAIN("tst_layer_skip")
