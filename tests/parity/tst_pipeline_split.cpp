// Pipeline split in one process (runtime/dist without MPI): ranks are threads joined by an
// in-memory Transport, each with its own Engine over a layer range and only that stage's weights.
// Every result equals a whole pass bit for bit: logits, embeddings, final norm, residuals, Q/K,
// attention statistics and maps, MoE routing, under steering, knockout, router edits, layer skips
// and patches (each acting on the rank that owns its layer), and across prompt edits with prefix
// reuse (one decision for all stages). Also: the engine's stage API alone, malformed pipeline
// messages, a silent rank.
#include <thread>

#include "parity_common.h"
#include "pipeline_compare.h"
#include "runtime/dist/pipeline.h"
#include "runtime/engine/engine.h"
#include "thread_transport.h"

namespace {

using namespace ll::rt;
using namespace ll::rt::dist;
using pipetest::Hub;
using pipetest::positionsOf;
using pipetest::same;
using pipetest::sameTrace;
using pipetest::ThreadTransport;

// A request sequence for one model: interventions of every kind, then prompt edits.
std::vector<std::pair<std::vector<int32_t>, RunRequest>> scenario(const ModelSpec& s) {
  std::vector<int32_t> ids = {1};
  for (int i = 0; i < 23; ++i) ids.push_back(static_cast<int32_t>((37 * i + 11) % s.nVocab));
  std::vector<float> v(size_t(s.nEmbd)), pv(size_t(s.nEmbd)), hv(size_t(s.headDim));
  for (int i = 0; i < s.nEmbd; ++i) {
    v[size_t(i)] = std::sin(0.37f * i);
    pv[size_t(i)] = std::cos(0.11f * i);
  }
  for (int i = 0; i < s.headDim; ++i) hv[size_t(i)] = 0.25f * std::sin(0.5f * i);
  std::vector<std::pair<std::vector<int32_t>, RunRequest>> r;
  RunRequest q;
  r.push_back({ids, q});
  q.interventions.steering.push_back({1, 3.0f, 6, v});
  q.interventions.steering.push_back({s.nLayer - 2, -2.0f, 0, pv});
  r.push_back({ids, q});
  q.interventions.knockout = Knockout{{15, 16, 17}, {2, 3, 4}, 0, s.nLayer};
  r.push_back({ids, q});
  if (s.nExpert > 0) {
    q.interventions.router.push_back({1, 0, RouterEditKind::Ban, 0});
    q.interventions.router.push_back({s.nLayer - 1, 2, RouterEditKind::Force, 0});
    q.interventions.router.push_back({2, 1, RouterEditKind::Bias, 1.5f});
    r.push_back({ids, q});
  }
  q.interventions.skips.push_back({2, SkipPart::Mlp});
  q.interventions.patches.push_back({PatchSite::Embedding, 0, 5, 0, true, pv});
  q.interventions.patches.push_back({PatchSite::Resid, 1, 9, 0, false, v});
  q.interventions.patches.push_back({PatchSite::Head, 3, 12, 1, false, hv});
  r.push_back({ids, q});
  // Prompt edits under the same interventions: the stages reuse the unchanged prefix.
  ids[20] = 42;
  r.push_back({ids, q});
  ids.push_back(7);
  ids.push_back(8);
  r.push_back({ids, q});
  ids.resize(19);
  r.push_back({ids, q});
  return r;
}

// deviceCaptures: every engine keeps its captures in backend buffers (a GPU's storage, forced on
// the CPU), so stage traces are read back lazily before they travel.
void splitEqualsWhole(const std::string& modelFile, int nRanks, bool deviceCaptures = false) {
  LL_REQUIRE_SHARED();
  auto model = std::shared_ptr<const Model>(loadModel(lltest::sharedDir() / "models" / modelFile));
  Session whole;
  whole.attach(model, parity::testBackend());
  if (deviceCaptures) whole.engine().setDeviceCaptures(true);
  std::vector<std::unique_ptr<Session>> ranks;
  for (int r = 0; r < nRanks; ++r) {
    // Each rank binds its stage's weights only (rank 0 also the queries' path it recomputes).
    BackendChoice b = parity::testBackend();
    b.share = {r, nRanks, r == 0 ? WeightScope::Extra::Queries : WeightScope::Extra::None};
    ranks.push_back(std::make_unique<Session>());
    ranks.back()->attach(model, b);
    if (deviceCaptures) ranks.back()->engine().setDeviceCaptures(true);
  }
  Hub hub;
  std::vector<std::unique_ptr<ThreadTransport>> ts;
  for (int r = 0; r < nRanks; ++r) ts.push_back(std::make_unique<ThreadTransport>(hub, r, nRanks));
  PipelineOptions opt;
  opt.timeoutS = 60;
  // jthreads: joined after the driver's destructor stopped them, also when a check throws.
  std::vector<std::jthread> workers;
  for (int r = 1; r < nRanks; ++r)
    workers.emplace_back(
        [&, r] { servePipeline(*ts[size_t(r)], ranks[size_t(r)]->engine(), opt); });
  {
    PipelineDriver driver(*ts[0], ranks[0]->engine(), opt);
    int step = 0, reused = 0;
    for (const auto& [ids, req] : scenario(model->spec)) {
      const std::string what =
          modelFile + " -np " + std::to_string(nRanks) + " step " + std::to_string(step++);
      auto got = driver.run(ids, positionsOf(ids), req.interventions, req.capture);
      driver.fetchHead();
      for (int l = 0; l < model->spec.nLayer; ++l) driver.fetchLayer(l);
      auto want = whole.engine().run(ids, positionsOf(ids), req.interventions, req.capture);
      reused += got->reusedRows;
      sameTrace(ranks[0].get(), *got, *want, what);
    }
    QVERIFY2(reused > 20, "prefix reuse did not happen");  // the edits kept long prefixes
  }  // the driver's destructor stops the workers
}

}  // namespace

LL_TEST(denseTwoRanks) {
  splitEqualsWhole("stories260K.gguf", 2);
}
LL_TEST(denseThreeRanks) {
  splitEqualsWhole("stories260K.gguf", 3);
}
LL_TEST(moeTwoRanks) {
  splitEqualsWhole("stories260K-moe4.gguf", 2);
}
LL_TEST(moeFiveRanks) {
  splitEqualsWhole("stories260K-moe4.gguf", 5);
}
LL_TEST(deviceCaptures) {
  splitEqualsWhole("stories260K.gguf", 3, true);
  splitEqualsWhole("stories260K-moe4.gguf", 2, true);
}

// An early-exit pass (GemFilter's: capture.lastLayer, unpublished) over the stages: the stage
// holding the stop layer stops there, later stages run nothing, and the trace equals one
// process's bit for bit; every stage's cache then stays what one process keeps, so the runs after
// it reuse the same rows and give the same values.
void earlyExitEqualsWhole(const std::string& modelFile, int nRanks) {
  LL_REQUIRE_SHARED();
  auto model = std::shared_ptr<const Model>(loadModel(lltest::sharedDir() / "models" / modelFile));
  Session whole;
  whole.attach(model, parity::testBackend());
  std::vector<std::unique_ptr<Session>> ranks;
  for (int r = 0; r < nRanks; ++r) {
    BackendChoice b = parity::testBackend();
    b.share = {r, nRanks, r == 0 ? WeightScope::Extra::Queries : WeightScope::Extra::None};
    ranks.push_back(std::make_unique<Session>());
    ranks.back()->attach(model, b);
  }
  Hub hub;
  std::vector<std::unique_ptr<ThreadTransport>> ts;
  for (int r = 0; r < nRanks; ++r) ts.push_back(std::make_unique<ThreadTransport>(hub, r, nRanks));
  PipelineOptions opt;
  opt.timeoutS = 60;
  std::vector<std::jthread> workers;
  for (int r = 1; r < nRanks; ++r)
    workers.emplace_back(
        [&, r] { servePipeline(*ts[size_t(r)], ranks[size_t(r)]->engine(), opt); });
  PipelineDriver driver(*ts[0], ranks[0]->engine(), opt);
  std::vector<int32_t> ids = {1};
  for (int i = 0; i < 15; ++i)
    ids.push_back(static_cast<int32_t>((29 * i + 7) % model->spec.nVocab));
  auto step = [&](const std::vector<int32_t>& x, int lastLayer, bool publish,
                  const std::string& what) {
    CaptureOptions cap;
    cap.lastLayer = lastLayer;
    auto got = driver.run(x, positionsOf(x), {}, cap, {}, publish);
    driver.fetchAll();
    auto want = whole.engine().run(x, positionsOf(x), {}, cap, {}, publish);
    sameTrace(ranks[0].get(), *got, *want,
              modelFile + " -np " + std::to_string(nRanks) + " " + what);
  };
  const int L = model->spec.nLayer;
  step(ids, -1, true, "first run");
  for (int stop = 0; stop < L; ++stop) {
    std::vector<int32_t> edited = ids;
    edited[size_t(10 + stop % 4)] = static_cast<int32_t>((edited[10] + 3) % model->spec.nVocab);
    const std::string at = "stop " + std::to_string(stop);
    step(edited, stop, false, at + " early pass");
    step(edited, -1, true, at + " run after it");
    step(ids, -1, true, at + " back to the prompt");
  }
}

LL_TEST(earlyExitTwoRanks) {
  earlyExitEqualsWhole("stories260K.gguf", 2);
}
LL_TEST(earlyExitThreeRanksMoe) {
  earlyExitEqualsWhole("stories260K-moe4.gguf", 3);
}

// Stages are balanced by layer count and cover every layer once.
LL_TEST(splitPlan) {
  const auto s = splitLayers(22, 4);
  QCOMPARE(s.size(), size_t(4));
  QCOMPARE(s[0].first, 0);
  QCOMPARE(s[3].last, 22);
  for (size_t i = 0; i < s.size(); ++i) {
    QVERIFY(s[i].last - s[i].first == 5 || s[i].last - s[i].first == 6);
    if (i) QCOMPARE(s[i].first, s[i - 1].last);
  }
  bool threw = false;
  try {
    splitLayers(3, 4);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY(threw);
}

// A stage asked to reuse more rows than its cache holds refuses instead of computing garbage.
LL_TEST(stageRefusesReuseItCannotHonour) {
  LL_REQUIRE_SHARED();
  auto model =
      std::shared_ptr<const Model>(loadModel(lltest::sharedDir() / "models" / "stories260K.gguf"));
  Session s;
  s.attach(model, parity::testBackend());
  Engine& e = s.engine();
  e.setLayerRange(0, 2);
  const std::vector<int32_t> ids = {1, 5, 6, 7};
  std::vector<float> out;
  HostActivations link(e.backend(), nullptr, &out);
  bool threw = false;
  try {
    e.runStage(ids, positionsOf(ids), {}, {}, {2, nullptr, &link});
  } catch (const std::logic_error&) {
    threw = true;
  }
  QVERIFY(threw);
  e.runStage(ids, positionsOf(ids), {}, {}, {0, nullptr, &link});
  QCOMPARE(out.size(), size_t(4 * model->spec.nEmbd));
  QCOMPARE(e.plannedReuse(ids, positionsOf(ids), {}, {}), 3);
}

// Truncated or inconsistent messages are errors, never reads past the buffer.
LL_TEST(malformedMessages) {
  StageRequest q;
  q.ids = {1, 2, 3};
  q.positions = {0, 1, 2};
  q.interventions.steering.push_back({1, 2.0f, 0, {1.0f, 2.0f}});
  q.interventions.knockout = Knockout{{1}, {0}, 0, 2};
  q.interventions.patches.push_back({PatchSite::Head, 1, 2, 0, true, {0.5f}});
  WireWriter w;
  writeRequest(w, q);
  const std::vector<char> full = w.bytes();
  {
    WireReader r(full);
    const StageRequest back = readRequest(r);
    QVERIFY(back.interventions == q.interventions);
    QVERIFY(back.ids == q.ids);
  }
  for (size_t cut = 0; cut < full.size(); ++cut) {
    bool threw = false;
    try {
      WireReader r(full.data(), cut);
      readRequest(r);
    } catch (const std::runtime_error&) {
      threw = true;
    }
    QVERIFY2(threw, "a message cut at " + std::to_string(cut) + " bytes was accepted");
  }
  std::vector<char> huge = full;
  const uint64_t n = uint64_t(1) << 60;  // the ids' count
  std::memcpy(huge.data(), &n, sizeof n);
  bool threw = false;
  try {
    WireReader r(huge);
    readRequest(r);
  } catch (const std::runtime_error&) {
    threw = true;
  }
  QVERIFY(threw);
}

// A rank that never answers: the driver's run fails with an error naming it after the deadline.
LL_TEST(silentRankTimesOut) {
  LL_REQUIRE_SHARED();
  auto model =
      std::shared_ptr<const Model>(loadModel(lltest::sharedDir() / "models" / "stories260K.gguf"));
  Session s;
  s.attach(model, parity::testBackend());
  Hub hub;
  ThreadTransport t0(hub, 0, 2);
  PipelineOptions opt;
  opt.timeoutS = 0.5;
  PipelineDriver driver(t0, s.engine(), opt);
  const std::vector<int32_t> ids = {1, 5, 6, 7};
  std::string msg;
  try {
    driver.run(ids, positionsOf(ids), {}, {});
  } catch (const TransportError& e) {
    msg = e.what();
  }
  QVERIFY2(msg.find("rank 1 (layers 2-4)") != std::string::npos, msg);
  QVERIFY2(msg.find("died or hangs") != std::string::npos, msg);
}

LL_TEST_MAIN("tst_pipeline_split")
