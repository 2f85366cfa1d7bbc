// KV-cache prefix reuse: a sequence of randomized edits (replace, insert, delete tokens at random
// positions, truncate, extend) run through one session with reuse must equal a full recomputation
// of each prompt: logits, residual streams, Q/K, attention statistics (entropy, last row, column
// sums, which reuse maintains by subtraction) and MoE routing.
#include <random>

#include "parity_common.h"
#include "runtime/engine/engine.h"

namespace {

using ll::rt::Trace;

double relDiff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(double(a[i]) - b[i]) / std::max(1.0, std::fabs(double(b[i])));
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

void compareTraces(const Trace& got, const Trace& want, const std::string& what) {
  QCOMPARE(got.nTokens, want.nTokens);
  QCOMPARE(got.ids, want.ids);
  const double tol = 1e-4;  // relative; CPU threaded reductions vary ~1e-6 run to run
  auto chk = [&](const std::vector<float>& a, const std::vector<float>& b,
                 const std::string& name) {
    const double d = relDiff(a, b);
    QVERIFY2(d <= tol, what + ": " + name + " differs by " + std::to_string(d));
  };
  chk(got.logits, want.logits, "logits");
  chk(got.embd, want.embd, "embd");
  chk(got.finalNormRows(0, got.nTokens), want.finalNormRows(0, want.nTokens), "final_norm");
  for (int l = 0; l < got.nLayer; ++l) {
    const auto &a = got.layers[l], &b = want.layers[l];
    const std::string ls = " layer " + std::to_string(l);
    chk(a.resid, b.resid, "resid" + ls);
    chk(a.residMid, b.residMid, "residMid" + ls);
    if (got.qFrom == want.qFrom) chk(a.qTail, b.qTail, "stored queries" + ls);
    chk(got.queries(l, 0, got.nTokens), want.queries(l, 0, want.nTokens), "queries" + ls);
    chk(a.k, b.k, "k" + ls);
    chk(a.entropy, b.entropy, "entropy" + ls);
    chk(a.lastRow, b.lastRow, "lastRow" + ls);
    chk(a.colSum, b.colSum, "colSum" + ls);
    chk(a.routerLogits, b.routerLogits, "router" + ls);
    chk(a.expertWeights, b.expertWeights, "expert weights" + ls);
    QVERIFY2(a.experts == b.experts, what + ": experts differ" + ls);
  }
}

// deviceCaptures: the reusing session keeps its captures in backend buffers (the GPU's storage,
// forced on the CPU) and reads them back lazily; the full runs use the backend's default.
// inPlace: the previous trace is dropped before each edit, so the update is built in its buffers
// (old query rows before its stored tail are then projected again before being overwritten).
void randomEdits(const std::string& modelFile, int steps, uint64_t seed,
                 bool deviceCaptures = false, bool inPlace = false) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  auto model = std::shared_ptr<const ll::rt::Model>(ll::rt::loadModel(shared / modelFile));
  ll::rt::Session reuse, full;
  reuse.attach(model, parity::testBackend());
  full.attach(model, parity::testBackend());
  if (deviceCaptures) reuse.engine().setDeviceCaptures(true);
  std::mt19937_64 rng(seed);
  const int V = model->spec.nVocab;
  std::vector<int32_t> ids = {1};
  for (int i = 0; i < 40; ++i) ids.push_back(static_cast<int32_t>(rng() % V));
  int reusedTotal = 0;
  std::shared_ptr<const ll::rt::Trace> prev;
  for (int step = 0; step < steps; ++step) {
    const int kind = static_cast<int>(rng() % 5);
    const size_t at = 1 + rng() % std::max<size_t>(1, ids.size() - 1);
    if (kind == 0 && at < ids.size()) ids[at] = static_cast<int32_t>(rng() % V);  // replace
    if (kind == 1)
      ids.insert(ids.begin() + std::min(at, ids.size()),
                 static_cast<int32_t>(rng() % V));                                    // insert
    if (kind == 2 && ids.size() > 2 && at < ids.size()) ids.erase(ids.begin() + at);  // delete
    if (kind == 3 && ids.size() > 4) ids.resize(ids.size() - 1 - rng() % 3);          // truncate
    if (kind == 4)
      for (int j = 0; j < 3; ++j) ids.push_back(static_cast<int32_t>(rng() % V));  // extend
    reuse.setPromptIds(ids);
    if (inPlace) prev.reset();
    auto a = reuse.run();
    prev = a;
    full.resetCache();
    full.setPromptIds(ids);
    auto b = full.run();
    QCOMPARE(b->reusedRows, 0);
    reusedTotal += a->reusedRows;
    compareTraces(*a, *b,
                  "step " + std::to_string(step) + " (edit kind " + std::to_string(kind) + ")");
  }
  std::printf("  %d steps, %d rows reused in total\n", steps, reusedTotal);
  QVERIFY(reusedTotal > steps * 5);  // reuse really happened
}

}  // namespace

LL_TEST(randomEditsDense) {
  randomEdits("models/stories260K.gguf", 40, 7);
}
LL_TEST(randomEditsMoe) {
  randomEdits("models/llama-moe.gguf", 25, 11);
}
LL_TEST(randomEditsGpt2) {
  randomEdits("models/gpt2-tiny-f16.gguf", 15, 13);
}
LL_TEST(randomEditsDeviceCaptures) {
  randomEdits("models/llama-moe.gguf", 20, 17, true);
}
LL_TEST(randomEditsInPlace) {
  randomEdits("models/stories260K.gguf", 40, 19, false, true);
  randomEdits("models/llama-moe.gguf", 20, 23, true, true);
}

// Interventions invalidate from where they act; results still equal a full recomputation.
LL_TEST(reuseAcrossInterventions) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  auto model =
      std::shared_ptr<const ll::rt::Model>(ll::rt::loadModel(shared / "models/llama-moe.gguf"));
  ll::rt::Session reuse, full;
  reuse.attach(model, parity::testBackend());
  full.attach(model, parity::testBackend());
  auto tj = parity::readJson(shared / "reference/llama-moe/park/tokens.json");
  auto ids = tj["ids"].get<std::vector<int32_t>>();
  reuse.setPromptIds(ids);
  full.setPromptIds(ids);
  std::vector<ll::rt::RunRequest> reqs(6);
  std::vector<float> v(model->spec.nEmbd);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.37f * i);
  reqs[1].interventions.steering.push_back({1, 2.0f, 15, v});
  reqs[2].interventions.steering.push_back({1, 2.0f, 10, v});
  reqs[3] = reqs[2];
  reqs[3].interventions.knockout = ll::rt::Knockout{{20, 21}, {1, 2, 3}, 0, 2};
  reqs[4] = reqs[3];
  reqs[4].interventions.router.push_back({0, 1, ll::rt::RouterEditKind::Ban, 0});
  // reqs[5]: back to nothing
  std::vector<int> expectReuse = {-1, 15, 10, 20, 0, 0};  // park: 27 tokens
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto a = reuse.run(reqs[i]);
    full.resetCache();
    auto b = full.run(reqs[i]);
    if (expectReuse[i] >= 0) QCOMPARE(a->reusedRows, expectReuse[i]);
    compareTraces(*a, *b, "request " + std::to_string(i));
  }
  // Token edit under an unchanged knockout: the column sums of the kept rows are maintained by
  // subtracting the old rows' contributions computed with the old masks.
  reuse.run(reqs[3]);
  ids[21] = 5;  // row 21 is a knocked-out query row
  reuse.setPromptIds(ids);
  full.setPromptIds(ids);
  auto a = reuse.run(reqs[3]);
  QCOMPARE(a->reusedRows, 21);
  full.resetCache();
  compareTraces(*a, *full.run(reqs[3]), "edit under knockout");
}

// A cancelled pass leaves the cache consistent: the next run still equals a full recomputation.
LL_TEST(cancelThenRun) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  auto model =
      std::shared_ptr<const ll::rt::Model>(ll::rt::loadModel(shared / "models/stories260K.gguf"));
  ll::rt::Session reuse, full;
  reuse.attach(model, parity::testBackend());
  full.attach(model, parity::testBackend());
  std::vector<int32_t> ids = {1, 400, 401, 402, 403, 404, 405, 406};
  reuse.setPromptIds(ids);
  reuse.run();
  ids[3] = 77;
  reuse.setPromptIds(ids);
  bool threw = false;
  try {
    reuse.run({}, [](int done, int) { return done < 2; });
  } catch (const ll::rt::Cancelled&) {
    threw = true;
  }
  QVERIFY(threw);
  ids[5] = 88;
  reuse.setPromptIds(ids);
  auto a = reuse.run();
  QVERIFY(a->reusedRows <= 3);
  full.setPromptIds(ids);
  compareTraces(*a, *full.run(), "after cancel");
}

LL_TEST_MAIN("tst_prefix_reuse")
