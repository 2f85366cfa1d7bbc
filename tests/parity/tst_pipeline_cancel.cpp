// Cancelling a pipeline pass between layers (runtime/dist without MPI: ranks are threads joined
// by an in-memory Transport). A caller's progress that says stop after layer k ends the pass on
// whichever rank runs layer k (rank 0's own stage, or a later one told by a cancel message); the
// pass throws Cancelled, and every stage (finished, stopped or never started) leaves its cache as
// one process leaves a cancelled pass, so the runs after it reuse the same rows and equal one
// process bit for bit. Stale cancels (an earlier pass's, another session's) never cancel a pass.
#include <atomic>
#include <chrono>
#include <thread>

#include "parity_common.h"
#include "pipeline_compare.h"
#include "runtime/dist/pipeline.h"
#include "runtime/dist/wire.h"
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

// Ranks 1..N-1 as threads serving a driver on rank 0, and one process beside them. A rank's
// afterLayer hook holds it after the layer the test cancels at until rank 0's cancel is queued,
// so the cancel lands exactly there however fast the layers run.
struct SplitRig {
  std::shared_ptr<const Model> model;
  Session whole;
  std::vector<std::unique_ptr<Session>> ranks;
  Hub hub;
  std::vector<std::unique_ptr<ThreadTransport>> ts;
  std::vector<StageRange> stages;
  std::atomic<int> cancelAt{0};  // the layer count after which the caller says stop (0: never)
  std::vector<int> done;         // per rank: layers run in this pass (its thread only)
  std::unique_ptr<PipelineDriver> driver;
  std::vector<std::jthread> workers;

  SplitRig(const std::string& modelFile, int nRanks) {
    model = std::shared_ptr<const Model>(loadModel(lltest::sharedDir() / "models" / modelFile));
    whole.attach(model, parity::testBackend());
    for (int r = 0; r < nRanks; ++r) {
      BackendChoice b = parity::testBackend();
      b.share = {r, nRanks, r == 0 ? WeightScope::Extra::Queries : WeightScope::Extra::None};
      ranks.push_back(std::make_unique<Session>());
      ranks.back()->attach(model, b);
      ts.push_back(std::make_unique<ThreadTransport>(hub, r, nRanks));
    }
    stages = splitLayers(model->spec.nLayer, nRanks);
    done.assign(size_t(nRanks), 0);
    PipelineOptions opt;
    opt.timeoutS = 60;
    for (int r = 1; r < nRanks; ++r) {
      ServeHooks hooks;
      hooks.beforeRun = [this, r] { done[size_t(r)] = 0; };
      hooks.afterLayer = [this, r] {
        const int layer = stages[size_t(r)].first + ++done[size_t(r)];
        if (layer != cancelAt.load()) return;
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!ts[size_t(r)]->poll(0, kTagCancel) && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
      };
      workers.emplace_back([this, r, hooks, opt] {
        servePipeline(*ts[size_t(r)], &ranks[size_t(r)]->engine(), opt, hooks);
      });
    }
    driver = std::make_unique<PipelineDriver>(*ts[0], ranks[0]->engine(), opt);
  }
  ~SplitRig() { driver.reset(); }  // stops the workers before they are joined

  // The caller's progress: stop once `cancelAt` layers are done (true always when it is 0).
  EngineProgress progress() {
    return [this](int layers, int) { return cancelAt.load() == 0 || layers < cancelAt.load(); };
  }
};

struct Step {
  std::vector<int32_t> ids;
  Interventions iv;
};

// Runs `s` on both sides (watched: with a progress that never stops) and compares; the traces
// stay held by the caller until the next step, as the server and the GUI hold theirs.
void runBoth(SplitRig& sp, const Step& s, bool watched, const std::string& what,
             std::shared_ptr<const Trace>* got, std::shared_ptr<const Trace>* want) {
  CaptureOptions cap;
  auto g = sp.driver->run(s.ids, positionsOf(s.ids), s.iv, cap, {}, true,
                          watched ? sp.progress() : EngineProgress{});
  sp.driver->fetchAll();
  auto w = sp.whole.engine().run(s.ids, positionsOf(s.ids), s.iv, cap);
  sameTrace(nullptr, *g, *w, what);
  *got = g;
  *want = w;
}

// One cancel after layer k of a pass that reuses part of the previous one, then the runs after it.
void cancelAtLayer(SplitRig& sp, const std::vector<Step>& steps, int k, const std::string& what) {
  std::shared_ptr<const Trace> got, want;
  runBoth(sp, steps[0], true, what + " first run", &got, &want);
  sp.cancelAt = k;
  const Step& c = steps[1];
  bool pipeCancelled = false, wholeCancelled = false;
  try {
    sp.driver->run(c.ids, positionsOf(c.ids), c.iv, {}, {}, true, sp.progress());
  } catch (const Cancelled&) {
    pipeCancelled = true;
  }
  try {
    sp.whole.engine().run(c.ids, positionsOf(c.ids), c.iv, {}, sp.progress());
  } catch (const Cancelled&) {
    wholeCancelled = true;
  }
  sp.cancelAt = 0;
  QVERIFY2(pipeCancelled, what + ": the pipeline's pass was not cancelled");
  QVERIFY2(wholeCancelled, what + ": one process's pass was not cancelled");
  // Back to the first prompt (reuses the rows both kept), the cancelled request again, and an
  // unwatched run.
  runBoth(sp, steps[0], true, what + " after the cancel", &got, &want);
  QVERIFY2(got->reusedRows > 0, what + ": nothing was reused after the cancel");
  runBoth(sp, steps[1], true, what + " the cancelled request again", &got, &want);
  runBoth(sp, steps[2], false, what + " an unwatched run", &got, &want);
}

std::vector<Step> steps(const ModelSpec& s) {
  Step a;
  a.ids = {1};
  for (int i = 0; i < 23; ++i) a.ids.push_back(static_cast<int32_t>((37 * i + 11) % s.nVocab));
  Step b = a;  // an edit at 12 and steering from position 8: 8 rows reused
  b.ids[12] = static_cast<int32_t>((b.ids[12] + 5) % s.nVocab);
  std::vector<float> v(size_t(s.nEmbd));
  for (int i = 0; i < s.nEmbd; ++i) v[size_t(i)] = std::sin(0.37f * i);
  b.iv.steering.push_back({1, 3.0f, 8, v});
  Step c = a;
  c.ids.push_back(7);
  return {a, b, c};
}

void cancelEverywhere(const std::string& modelFile, int nRanks) {
  LL_REQUIRE_SHARED();
  SplitRig sp(modelFile, nRanks);
  const std::vector<Step> st = steps(sp.model->spec);
  for (int k = 1; k <= sp.model->spec.nLayer; ++k) {
    const std::string what = modelFile + " -np " + std::to_string(nRanks) + " cancel after " +
                             std::to_string(k) + " layers";
    cancelAtLayer(sp, st, k, what);
  }
}

}  // namespace

LL_TEST(cancelTwoRanks) {
  cancelEverywhere("stories260K.gguf", 2);
}
LL_TEST(cancelThreeRanks) {
  cancelEverywhere("stories260K.gguf", 3);
}
LL_TEST(cancelThreeRanksMoe) {
  cancelEverywhere("stories260K-moe4.gguf", 3);
}

// Cancels of an earlier pass or of another session waiting on the ranks do not cancel the pass
// running now: it completes and equals one process.
LL_TEST(staleCancelsAreDropped) {
  LL_REQUIRE_SHARED();
  SplitRig sp("stories260K.gguf", 3);
  const std::vector<Step> st = steps(sp.model->spec);
  std::shared_ptr<const Trace> got, want;
  runBoth(sp, st[0], true, "first run", &got, &want);
  for (int r = 1; r < 3; ++r)
    for (auto [session, pass] : {std::pair<uint64_t, uint64_t>{0, 1}, {7, 2}, {0, 0}}) {
      WireWriter w;
      w.put<uint64_t>(session);
      w.put<uint64_t>(pass);
      sp.ts[0]->send(r, kTagCancel, w.bytes().data(), w.bytes().size(), 1, "a stale cancel");
    }
  runBoth(sp, st[1], true, "a run with stale cancels waiting", &got, &want);
  for (int r = 1; r < 3; ++r) QVERIFY2(!sp.ts[size_t(r)]->poll(0, kTagCancel), "not read");
  runBoth(sp, st[2], true, "the next run", &got, &want);
}

LL_TEST_MAIN("tst_pipeline_cancel")
