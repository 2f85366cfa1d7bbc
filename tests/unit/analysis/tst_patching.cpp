// Activation patching (§12) on stories260K and stories260K-moe4 against a plain re-implementation:
// for every (layer, position) a fresh engine state (no prefix reuse) runs the whole corrupted
// prompt with the clean value patched in, the value taken from an ordinary captured clean run
// (residual rows; attention and MLP outputs as differences of the captured residual streams),
// and the metric is computed here from the logits. Also: effect 1 at the last layer and position,
// heads summing to the attention output, noise corruption, and the analysis's validation errors.
#include <cmath>

#include "ana_common.h"
#include "runtime/analysis/patching.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

std::vector<int32_t> positionsOf(size_t n) {
  std::vector<int32_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(i);
  return p;
}

// The last row's logits of a full run with no rows reused.
std::vector<float> freshLastLogits(Session& s, const std::vector<int32_t>& ids,
                                   const Interventions& iv) {
  s.engine().resetCache();
  auto tr = s.engine().run(ids, positionsOf(ids.size()), iv, CaptureOptions{true, true}, {}, false);
  QCOMPARE(tr->reusedRows, 0);
  const float* row = tr->logitsRow(tr->nTokens - 1);
  return std::vector<float>(row, row + tr->nVocab);
}

double plainMetric(const std::vector<float>& logits, PatchMetric m, int a, int b) {
  if (m == PatchMetric::LogitDiff) return double(logits[size_t(a)]) - logits[size_t(b)];
  double z = 0;
  for (float x : logits) z += std::exp(double(x));
  return std::exp(double(logits[size_t(a)])) / z;
}

int argmaxOf(const std::vector<float>& x, int skip = -1) {
  int k = skip == 0 ? 1 : 0;
  for (size_t i = 1; i < x.size(); ++i)
    if (static_cast<int>(i) != skip && x[i] > x[size_t(k)]) k = static_cast<int>(i);
  return k;
}

// §12's default b: the corrupted top-1, or its runner-up when that is a.
int defaultOther(const std::vector<float>& corrupted, int a) {
  const int b = argmaxOf(corrupted);
  return b == a ? argmaxOf(corrupted, a) : b;
}

// Largest |x - y| over two logit arrays.
double maxAbsDiff(const Trace& x, const Trace& y) {
  double m = 0;
  for (size_t i = 0; i < x.logits.size(); ++i)
    m = std::max(m, double(std::fabs(x.logits.data()[i] - y.logits.data()[i])));
  return m;
}

// Row t of a component's value in a captured (component-free) trace.
std::vector<float> plainValue(const Trace& tr, PatchComponent c, int l, int t) {
  const int d = tr.nEmbd;
  auto row = [&](const TraceTensor<float>& x) { return x.data() + size_t(t) * d; };
  const float* in = l == 0 ? row(tr.embd) : row(tr.layers[size_t(l - 1)].resid);
  const float* mid = row(tr.layers[size_t(l)].residMid);
  const float* out = row(tr.layers[size_t(l)].resid);
  std::vector<float> v(static_cast<size_t>(d));
  for (int i = 0; i < d; ++i)
    v[size_t(i)] = c == PatchComponent::Resid  ? out[i]
                   : c == PatchComponent::Attn ? mid[i] - in[i]
                                               : out[i] - mid[i];
  return v;
}

PatchSite siteOf(PatchComponent c) {
  return c == PatchComponent::Attn  ? PatchSite::Attention
         : c == PatchComponent::Mlp ? PatchSite::Mlp
                                    : PatchSite::Resid;
}

// The corrupted prompt: the clean one with token 3 (" B" of " Ben") replaced by a byte token; on
// both fixtures it moves the default logit difference by about 0.5.
std::vector<int32_t> corruptOf(std::vector<int32_t> ids) {
  ids[3] = 13;
  return ids;
}

// The analysis against the plain loop for one component, denoise, both metrics.
double compareSweep(const std::string& file, const std::string& ref, PatchComponent c,
                    PatchMetric metric, int32_t target = -1) {
  const auto clean = anatest::refIds(ref, "park");
  const auto corrupt = corruptOf(clean);
  auto s = anatest::session(file, ref, "park");
  PatchingRequest req;
  req.component = c;
  req.metric = metric;
  req.target = target;
  req.heads = false;
  int calls = 0, lastDone = 0, lastTotal = 0;
  const PatchingResult r = activationPatching(*s, clean, corrupt, req, {}, [&](int done, int tot) {
    // also called between layers (done unchanged): count the passes
    if (done != lastDone) ++calls;
    QVERIFY(done == lastDone || done == lastDone + 1);
    lastDone = done, lastTotal = tot;
    return true;
  });
  const int T = static_cast<int>(clean.size()), L = r.nLayer;
  QCOMPARE(r.firstDiff, 3);
  QCOMPARE(calls, (T - 3) * L);
  QCOMPARE(lastDone, lastTotal);
  QCOMPARE(r.passes, (T - 3) * L);

  auto p = anatest::session(file, ref, "");
  s->engine().resetCache();
  auto cleanTr = p->engine().run(clean, positionsOf(clean.size()), {}, CaptureOptions{}, {}, false);
  const std::vector<float> lc = freshLastLogits(*p, clean, {});
  const std::vector<float> lr = freshLastLogits(*p, corrupt, {});
  const int a = target >= 0 ? target : argmaxOf(lc), b = defaultOther(lr, a);
  QCOMPARE(r.request.target, a);
  QCOMPARE(r.request.other, b);
  const double mc = plainMetric(lc, metric, a, b), mr = plainMetric(lr, metric, a, b);
  QVERIFY(std::fabs(r.metricClean - mc) <= 1e-5 * std::max(1.0, std::fabs(mc)));
  QVERIFY(std::fabs(r.metricCorrupt - mr) <= 1e-5 * std::max(1.0, std::fabs(mr)));
  double maxDiff = 0, maxMetric = 0;
  for (int l = 0; l < L; ++l)
    for (int t = 0; t < T; ++t) {
      Interventions iv;
      Patch pt;
      pt.site = siteOf(c);
      pt.layer = l;
      pt.index = t;
      pt.value = plainValue(*cleanTr, c, l, t);
      iv.patches.push_back(pt);
      const double m = plainMetric(freshLastLogits(*p, corrupt, iv), metric, a, b);
      const double want = (m - mr) / (mc - mr);
      maxDiff = std::max(maxDiff, std::fabs(want - r.effect[size_t(l) * T + t]));
      maxMetric = std::max(maxMetric, std::fabs(m - r.metric[size_t(l) * T + t]));
    }
  // Float rounding of a different row batch (prefix reuse) and of captured differences: 1e-4 in
  // the logit difference's units, and the effect to that over the clean-corrupted gap. A
  // probability moves by at most a quarter of its logits' change (dp/dz = p(1 - p) <= 1/4), so
  // 1e-5 for it is tighter than the logits' tolerance implies. (It was 1e-6, below float32
  // rounding here: the sweep and the plain loop differed by 0.9-1.1e-6 in probability, 1.4-1.6e-5
  // in effect, whichever GEMM computed the short row batches.)
  const double metricTol = metric == PatchMetric::Prob ? 1e-5 : 1e-4;
  QVERIFY2(std::fabs(mc - mr) > 100 * metricTol, "the corruption barely moves the metric");
  QVERIFY2(maxMetric < metricTol && maxDiff < metricTol / std::fabs(mc - mr),
           file + " " + patchComponentName(c) + " " + patchMetricName(metric) +
               ": max metric difference " + std::to_string(maxMetric) + ", effect " +
               std::to_string(maxDiff));
  std::printf("%s %s %s: m_c %.5g, m_r %.5g; max |m - plain| = %.3g, max |effect - plain| = %.3g\n",
              file.c_str(), patchComponentName(c).c_str(), patchMetricName(metric).c_str(), mc, mr,
              maxMetric, maxDiff);
  return maxDiff;
}

}  // namespace

LL_TEST(sweepMatchesPlainLoopDense) {
  LL_REQUIRE_SHARED();
  for (PatchComponent c : {PatchComponent::Resid, PatchComponent::Attn, PatchComponent::Mlp})
    compareSweep("stories260K.gguf", "stories260K", c, PatchMetric::LogitDiff);
  // p(" Lily"), which the corruption of " Ben" moves (p of the top-1 " They" hardly changes).
  compareSweep("stories260K.gguf", "stories260K", PatchComponent::Resid, PatchMetric::Prob, 317);
}

LL_TEST(sweepMatchesPlainLoopMoe) {
  LL_REQUIRE_SHARED();
  for (PatchComponent c : {PatchComponent::Resid, PatchComponent::Attn, PatchComponent::Mlp})
    compareSweep("stories260K-moe4.gguf", "stories260K-moe4", c, PatchMetric::LogitDiff);
}

// Denoising the residual stream at the last layer and position restores the clean logits; before
// the first differing token nothing changes; each head's patch matches a fresh run, and all heads
// of a layer together equal patching the layer's attention output (W_O is linear, no bias here).
LL_TEST(lastLayerRestoresAndHeadsAddUp) {
  LL_REQUIRE_SHARED();
  const auto clean = anatest::refIds("stories260K", "park");
  const auto corrupt = corruptOf(clean);
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  const PatchingResult r = activationPatching(*s, clean, corrupt, {});
  const int T = r.nTokens, L = r.nLayer, H = r.nHead;
  QVERIFY2(std::fabs(r.effect[size_t(L - 1) * T + T - 1] - 1.0f) < 1e-5,
           std::to_string(r.effect[size_t(L - 1) * T + T - 1]));
  for (int l = 0; l < L; ++l)
    for (int t = 0; t < r.firstDiff; ++t) QCOMPARE(r.effect[size_t(l) * T + t], 0.0f);
  QCOMPARE(static_cast<int>(r.headEffect.size()), L * H);

  auto p = anatest::session("stories260K.gguf", "stories260K", "");
  p->engine().resetCache();
  CaptureOptions comp;
  comp.components = true;
  auto src = p->engine().run(clean, positionsOf(clean.size()), {}, comp, {}, false);
  const int hd = src->headDim, qd = H * hd;
  const std::vector<float> lr = freshLastLogits(*p, corrupt, {});
  const int a = r.request.target, b = r.request.other;
  double maxDiff = 0;
  for (int l = 0; l < L; ++l) {
    Interventions all;
    for (int h = 0; h < H; ++h) {
      Patch pt;
      pt.site = PatchSite::Head;
      pt.layer = l;
      pt.index = T - 1;
      pt.head = h;
      const float* row = src->layers[size_t(l)].headOut.data() + size_t(T - 1) * qd + h * hd;
      pt.value.assign(row, row + hd);
      all.patches.push_back(pt);
      Interventions one;
      one.patches.push_back(pt);
      const double m = plainMetric(freshLastLogits(*p, corrupt, one), PatchMetric::LogitDiff, a, b);
      const double want = (m - r.metricCorrupt) / (r.metricClean - r.metricCorrupt);
      maxDiff = std::max(maxDiff, std::fabs(want - r.headEffect[size_t(l) * H + h]));
    }
    Interventions attn;
    Patch pa;
    pa.site = PatchSite::Attention;
    pa.layer = l;
    pa.index = T - 1;
    pa.value = plainValue(*src, PatchComponent::Attn, l, T - 1);
    attn.patches.push_back(pa);
    const double mAll =
        plainMetric(freshLastLogits(*p, corrupt, all), PatchMetric::LogitDiff, a, b);
    const double mAttn =
        plainMetric(freshLastLogits(*p, corrupt, attn), PatchMetric::LogitDiff, a, b);
    QVERIFY2(std::fabs(mAll - mAttn) < 1e-4 * std::max(1.0, std::fabs(mAttn)),
             "layer " + std::to_string(l) + ": all heads " + std::to_string(mAll) +
                 " vs the attention output " + std::to_string(mAttn));
  }
  (void)lr;
  QVERIFY2(maxDiff < 1e-4, "max head effect difference " + std::to_string(maxDiff));
}

// Noise corruption (ROME): the corrupted run is the clean prompt with the noise patches; the
// noise is seeded, has std ~ 3 sigma of the embedding matrix, and the sweep matches a plain loop
// in the noising direction (the corrupted value into the clean run).
LL_TEST(noiseCorruptionAndNoisingDirection) {
  LL_REQUIRE_SHARED();
  const auto clean = anatest::refIds("stories260K", "park");
  const int T = static_cast<int>(clean.size());
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  PatchingRequest req;
  req.noiseBegin = 1;
  req.noiseEnd = 4;
  req.direction = PatchDirection::Noise;
  req.heads = false;
  const std::vector<Patch> noise = noisePatches(*s, req, T);
  QCOMPARE(noise.size(), size_t(3));
  QVERIFY(noise == noisePatches(*s, req, T));  // fixed seed
  PatchingRequest other = req;
  other.noiseSeed = 7;
  QVERIFY(!(noise == noisePatches(*s, other, T)));
  // sigma of the embedding matrix from the file (F32 in this fixture).
  const auto model = anatest::model("stories260K.gguf");
  const TensorData* emb = model->weights.find("token_embd.weight");
  QVERIFY(emb && emb->type == ll::kern::QType::F32);
  const float* w = reinterpret_cast<const float*>(emb->data);
  const size_t n = emb->nbytes / 4;
  double sum = 0, sq = 0, nsq = 0;
  for (size_t i = 0; i < n; ++i) sum += w[i], sq += double(w[i]) * w[i];
  const double sigma = std::sqrt(sq / n - (sum / n) * (sum / n));
  size_t cnt = 0;
  for (const Patch& p : noise) {
    QVERIFY(p.add && p.site == PatchSite::Embedding);
    for (float v : p.value) nsq += double(v) * v, ++cnt;
  }
  const double sd = std::sqrt(nsq / cnt);
  QVERIFY2(std::fabs(sd / (3 * sigma) - 1) < 0.15,
           std::to_string(sd) + " vs " + std::to_string(3 * sigma));

  const PatchingResult r = activationPatching(*s, clean, {}, req);
  QCOMPARE(r.firstDiff, 1);
  Interventions noisy;
  noisy.patches = noise;
  auto p = anatest::session("stories260K.gguf", "stories260K", "");
  p->engine().resetCache();
  auto noisyTr =
      p->engine().run(clean, positionsOf(clean.size()), noisy, CaptureOptions{}, {}, false);
  const std::vector<float> lc = freshLastLogits(*p, clean, {});
  const std::vector<float> lr = freshLastLogits(*p, clean, noisy);
  const int a = argmaxOf(lc), b = defaultOther(lr, a);
  QCOMPARE(r.request.target, a);
  QCOMPARE(r.request.other, b);
  const double mc = plainMetric(lc, PatchMetric::LogitDiff, a, b);
  const double mr = plainMetric(lr, PatchMetric::LogitDiff, a, b);
  double maxDiff = 0;
  for (int l = 0; l < r.nLayer; ++l)
    for (int t = 0; t < T; ++t) {
      Interventions iv;
      Patch pt;
      pt.layer = l;
      pt.index = t;
      pt.value = plainValue(*noisyTr, PatchComponent::Resid, l, t);
      iv.patches.push_back(pt);
      const double m = plainMetric(freshLastLogits(*p, clean, iv), PatchMetric::LogitDiff, a, b);
      maxDiff = std::max(maxDiff, std::fabs((m - mr) / (mc - mr) - r.effect[size_t(l) * T + t]));
    }
  QVERIFY2(maxDiff < 1e-4, "noising: max effect difference " + std::to_string(maxDiff));
  std::printf("noise corruption, noising direction: max |effect - plain| = %.3g\n", maxDiff);
  // Noising the last layer's residual at the last position gives the corrupted behaviour: 0.
  QVERIFY(std::fabs(r.effect[size_t(r.nLayer - 1) * T + T - 1]) < 1e-5);
}

LL_TEST(badInput) {
  LL_REQUIRE_SHARED();
  const auto clean = anatest::refIds("stories260K", "park");
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  const int T = static_cast<int>(clean.size());
  auto fails = [&](const std::function<void()>& f, const std::string& words) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      QVERIFY2(std::string(e.what()).find(words) != std::string::npos, e.what());
      return;
    }
    QFAIL("no error for: " + words);
  };
  std::vector<int32_t> shorter(clean.begin(), clean.end() - 1);
  fails([&] { activationPatching(*s, clean, shorter, {}); }, "same length");
  fails([&] { activationPatching(*s, clean, clean, {}); }, "same tokens");
  fails([&] { activationPatching(*s, clean, {}, {}); }, "no corruption");
  PatchingRequest same;
  same.target = 5;
  same.other = 5;
  fails([&] { activationPatching(*s, clean, corruptOf(clean), same); }, "same token");
  PatchingRequest big;
  big.target = 1 << 20;
  fails([&] { activationPatching(*s, clean, corruptOf(clean), big); }, "out of range");
  PatchingRequest span;
  span.noiseBegin = 3;
  span.noiseEnd = T + 1;
  fails([&] { activationPatching(*s, clean, {}, span); }, "noise span");
  // Noise far below float resolution leaves every logit as it was: m_c == m_r is named.
  PatchingRequest flat;
  flat.metric = PatchMetric::Prob;
  flat.noiseBegin = 1;
  flat.noiseEnd = 2;
  flat.noiseScale = 1e-30f;
  fails([&] { activationPatching(*s, clean, {}, flat); }, "same metric");
  // The session still runs afterwards.
  QCOMPARE(s->run()->nTokens, T);
}

// A cancelled sweep throws Cancelled; the next analysis on the same session is exact.
LL_TEST(cancelAndNames) {
  LL_REQUIRE_SHARED();
  const auto clean = anatest::refIds("stories260K", "park");
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  bool cancelled = false;
  try {
    activationPatching(*s, clean, corruptOf(clean), {}, {}, [](int done, int) { return done < 5; });
  } catch (const Cancelled&) {
    cancelled = true;
  }
  QVERIFY(cancelled);
  // Within the first pass: the callback also runs between its layers.
  int seen = 0;
  cancelled = false;
  try {
    activationPatching(*s, clean, corruptOf(clean), {}, {}, [&](int done, int) {
      ++seen;
      return done > 0 || seen < 2;
    });
  } catch (const Cancelled&) {
    cancelled = true;
  }
  QVERIFY(cancelled);
  QCOMPARE(seen, 2);
  const PatchingResult a = activationPatching(*s, clean, corruptOf(clean), {});
  auto f = anatest::session("stories260K.gguf", "stories260K", "park");
  const PatchingResult b = activationPatching(*f, clean, corruptOf(clean), {});
  QVERIFY(a.effect == b.effect && a.headEffect == b.headEffect);
  QCOMPARE(parsePatchComponent("mlp"), PatchComponent::Mlp);
  QCOMPARE(patchMetricName(parsePatchMetric("prob")), std::string("prob"));
  QCOMPARE(patchDirectionName(parsePatchDirection("noise")), std::string("noise"));
  bool threw = false;
  try {
    parsePatchComponent("heads");
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY(threw);
}

LL_TEST_MAIN("tst_patching")
