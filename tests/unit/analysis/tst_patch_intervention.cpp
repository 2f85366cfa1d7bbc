// The engine's Patch intervention (ALGORITHMS.md §12) on stories260K: a patch at index t reuses
// the rows before t and changes the rows from t on exactly as a fresh patched run; a run without
// patches after patched ones equals a fresh run; patching a component with the value the same run
// captured (CaptureOptions::components) changes nothing; the last layer's residual patched with
// another run's row gives that run's logits at that row; bad patches are refused with clear errors.
#include <cmath>
#include <functional>

#include "ana_common.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;

namespace {

std::vector<int32_t> positionsOf(size_t n) {
  std::vector<int32_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(i);
  return p;
}

// Largest |x - y| over two logit arrays.
double maxAbsDiff(const Trace& x, const Trace& y) {
  double m = 0;
  for (size_t i = 0; i < x.logits.size(); ++i)
    m = std::max(m, double(std::fabs(x.logits.data()[i] - y.logits.data()[i])));
  return m;
}

}  // namespace

// A run without patches after patched runs equals a fresh run; a patch at index t reuses rows < t.
LL_TEST(prefixReuseAroundPatches) {
  LL_REQUIRE_SHARED();
  const auto ids = anatest::refIds("stories260K", "park");
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  auto fresh = anatest::session("stories260K.gguf", "stories260K", "park");
  auto normal = fresh->run();
  auto first = s->run();
  RunRequest pr;
  Patch pt;
  pt.layer = 2;
  pt.index = 9;
  pt.value.assign(size_t(first->nEmbd), 0.5f);
  pr.interventions.patches.push_back(pt);
  auto patched = s->run(pr);
  QCOMPARE(patched->reusedRows, 9);
  const int V = normal->nVocab;
  for (int t = 0; t < 9; ++t)
    for (int i = 0; i < V; ++i) QVERIFY(patched->logitsRow(t)[i] == normal->logitsRow(t)[i]);
  bool differs = false;
  for (int i = 0; i < V && !differs; ++i)
    differs = patched->logitsRow(9)[i] != normal->logitsRow(9)[i];
  QVERIFY(differs);
  // Rows >= 9 against a fresh patched run (float rounding of a different row batch only).
  auto freshPatched = anatest::session("stories260K.gguf", "stories260K", "park")->run(pr);
  const double dPatched = maxAbsDiff(*patched, *freshPatched);
  QVERIFY2(dPatched < 1e-4, std::to_string(dPatched));
  auto back = s->run();
  QCOMPARE(back->reusedRows, 9);
  const double dBack = maxAbsDiff(*back, *normal);
  QVERIFY2(dBack < 1e-4, std::to_string(dBack));
  (void)ids;
}

// Each site patched with the value the same run captured: the logits do not move.
LL_TEST(capturedValueIsANoOp) {
  LL_REQUIRE_SHARED();
  const auto ids = anatest::refIds("stories260K", "park");
  auto s = anatest::session("stories260K.gguf", "stories260K", "");
  CaptureOptions comp;
  comp.components = true;
  s->engine().resetCache();
  auto base = s->engine().run(ids, positionsOf(ids.size()), {}, comp, {}, false);
  const int d = base->nEmbd, hd = base->headDim, qd = base->nHead * hd, t = 5, l = 2;
  QCOMPARE(base->layers[l].attnOut.size(), size_t(base->nTokens) * d);
  QCOMPARE(base->layers[l].headOut.size(), size_t(base->nTokens) * qd);
  // The captured outputs are the residual stream's updates.
  const float* in = base->layers[l - 1].resid.data() + size_t(t) * d;
  const float* mid = base->layers[l].residMid.data() + size_t(t) * d;
  const float* out = base->layers[l].resid.data() + size_t(t) * d;
  for (int i = 0; i < d; ++i) {
    QVERIFY(std::fabs(in[i] + base->layers[l].attnOut.data()[size_t(t) * d + i] - mid[i]) < 1e-5);
    QVERIFY(std::fabs(mid[i] + base->layers[l].mlpOut.data()[size_t(t) * d + i] - out[i]) < 1e-5);
  }
  auto row = [&](const TraceTensor<float>& x, int width, int off, int n) {
    return std::vector<float>(x.data() + size_t(t) * width + off,
                              x.data() + size_t(t) * width + off + n);
  };
  std::vector<Patch> patches;
  patches.push_back({PatchSite::Resid, l, t, 0, false, row(base->layers[l].resid, d, 0, d)});
  patches.push_back({PatchSite::Attention, l, t, 0, false, row(base->layers[l].attnOut, d, 0, d)});
  patches.push_back({PatchSite::Mlp, l, t, 0, false, row(base->layers[l].mlpOut, d, 0, d)});
  patches.push_back(
      {PatchSite::Head, l, t, 3, false, row(base->layers[l].headOut, qd, 3 * hd, hd)});
  patches.push_back({PatchSite::Embedding, 0, t, 0, true, std::vector<float>(size_t(d), 0.0f)});
  for (const Patch& p : patches) {
    Interventions iv;
    iv.patches.push_back(p);
    s->engine().resetCache();
    auto tr = s->engine().run(ids, positionsOf(ids.size()), iv, CaptureOptions{}, {}, false);
    const double diff = maxAbsDiff(*tr, *base);
    QVERIFY2(diff < 1e-5, std::to_string(int(p.site)) + ": " + std::to_string(diff));
  }
}

// The last layer's residual at row t replaced by another prompt's row: row t's logits are that
// prompt's; a zero row changes them.
LL_TEST(lastResidualCarriesTheLogits) {
  LL_REQUIRE_SHARED();
  auto ids = anatest::refIds("stories260K", "park");
  auto other = ids;
  other[2] = 13;
  auto s = anatest::session("stories260K.gguf", "stories260K", "");
  s->engine().resetCache();
  auto src = s->engine().run(other, positionsOf(other.size()), {}, CaptureOptions{}, {}, false);
  const int L = src->nLayer, d = src->nEmbd, t = 6, V = src->nVocab;
  Interventions iv;
  const float* r = src->layers[L - 1].resid.data() + size_t(t) * d;
  iv.patches.push_back({PatchSite::Resid, L - 1, t, 0, false, std::vector<float>(r, r + d)});
  auto tr = s->engine().run(ids, positionsOf(ids.size()), iv, CaptureOptions{}, {}, false);
  double m = 0;
  for (int i = 0; i < V; ++i)
    m = std::max(m, double(std::fabs(tr->logitsRow(t)[i] - src->logitsRow(t)[i])));
  QVERIFY2(m < 1e-5, std::to_string(m));
}

LL_TEST(badPatches) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "park");
  const int T = s->run()->nTokens;
  auto fails = [&](const std::function<void()>& f, const std::string& words) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      QVERIFY2(std::string(e.what()).find(words) != std::string::npos, e.what());
      return;
    }
    QFAIL("no error for: " + words);
  };
  const int d = s->model().spec.nEmbd, L = s->model().spec.nLayer, H = s->model().spec.nHead;
  auto patchFails = [&](Patch p, const std::string& words) {
    RunRequest rq;
    rq.interventions.patches.push_back(std::move(p));
    fails([&] { s->run(rq); }, words);
  };
  Patch p;
  p.value.assign(size_t(d), 0.0f);
  Patch q = p;
  q.layer = L;
  patchFails(q, "layer " + std::to_string(L));
  q = p;
  q.index = T;
  patchFails(q, "sequence index");
  q = p;
  q.value.pop_back();
  patchFails(q, "expected " + std::to_string(d));
  q = p;
  q.value[3] = NAN;
  patchFails(q, "NaN");
  q = p;
  q.site = PatchSite::Head;
  q.head = H;
  q.value.assign(size_t(s->model().spec.headDim), 0.0f);
  patchFails(q, "head " + std::to_string(H));
  // The session still runs afterwards.
  QCOMPARE(s->run()->nTokens, T);
}

LL_TEST_MAIN("tst_patch_intervention")
