// The pipeline (runtime/dist, ranks as threads) under generation and under several sessions, as
// `mpirun ... generate` and `mpirun ... serve` use it (every pass on rank 0's engine handed to the
// pipeline): generation (each decode step a one-row pass over the stages' KV caches) gives the
// same tokens as one engine, greedy and sampled, with steering and router edits; runs after a
// generation and an analysis's own passes give the same bits as one engine; sessions interleaved on
// the same ranks each keep their own stage state (results and prefix reuse as if alone); a closed
// session's engines are freed on the other ranks; the ranks refuse sessions past their bound.
#include <thread>

#include "parity_common.h"
#include "pipeline_compare.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/dist/pipeline.h"
#include "runtime/engine/engine.h"
#include "thread_transport.h"

namespace {

using namespace ll::rt;
using namespace ll::rt::dist;
using pipetest::Hub;
using pipetest::positionsOf;
using pipetest::ThreadTransport;

std::shared_ptr<const Model> fixture(const std::string& file) {
  return std::shared_ptr<const Model>(loadModel(lltest::sharedDir() / "models" / file));
}

// nRanks pipeline ranks as threads, each with a Session on the model; every pass on rank 0's
// engine goes through the pipeline (Engine::setPipeline, as the CLI does), everything fetched
// back. rowsRun: per pass, the rows the stages computed.
struct Rig {
  Rig(std::shared_ptr<const Model> model, int nRanks) {
    opt.timeoutS = 60;
    for (int r = 0; r < nRanks; ++r) {
      ranks.push_back(std::make_unique<Session>());
      ranks.back()->attach(model, parity::testBackend());
      ts.push_back(std::make_unique<ThreadTransport>(hub, r, nRanks));
    }
    for (int r = 1; r < nRanks; ++r)
      workers.emplace_back(
          [this, r] { servePipeline(*ts[size_t(r)], ranks[size_t(r)]->engine(), opt); });
    driver = std::make_unique<PipelineDriver>(*ts[0], ranks[0]->engine(), opt);
    ranks[0]->engine().setPipeline(
        [this](const std::vector<int32_t>& ids, const std::vector<int32_t>& pos,
               const Interventions& iv, const CaptureOptions& capture, const EngineProgress&,
               bool publish, const std::function<void(Trace&)>& annotate) {
          auto tr = driver->run(ids, pos, iv, capture, annotate, publish);
          driver->fetchAll();
          rowsRun.push_back(tr->nTokens - tr->reusedRows);
          return tr;
        });
  }
  ~Rig() { driver.reset(); }  // stops the workers before they are joined
  Session& session() { return *ranks[0]; }

  Hub hub;
  PipelineOptions opt;
  std::vector<std::unique_ptr<Session>> ranks;
  std::vector<std::unique_ptr<ThreadTransport>> ts;
  std::vector<std::jthread> workers;
  std::unique_ptr<PipelineDriver> driver;
  std::vector<int> rowsRun;
};

// Generation through a pipeline of nRanks against one engine: the same tokens and text.
void generateEqualsWhole(const std::string& file, int nRanks, const GenerateRequest& req) {
  LL_REQUIRE_SHARED();
  auto model = fixture(file);
  Session whole;
  whole.attach(model, parity::testBackend());
  whole.setPrompt("Once upon a time, a little girl", -1);
  const Generation want = whole.generate(req);
  QVERIFY(want.ids.size() > 4);
  Rig rig(model, nRanks);
  rig.session().setPrompt("Once upon a time, a little girl", -1);
  const Generation got = rig.session().generate(req);
  QVERIFY2(got.ids == want.ids, file + " -np " + std::to_string(nRanks) + ": got '" + got.text +
                                    "', one engine '" + want.text + "'");
  QCOMPARE(got.text, want.text);
  QCOMPARE(got.stoppedAtEos, want.stoppedAtEos);
  // The prompt, then one row per decode step (each stage reused its KV cache).
  QCOMPARE(rig.rowsRun.size(), want.ids.size());
  for (size_t i = 1; i < rig.rowsRun.size(); ++i) QCOMPARE(rig.rowsRun[i], 1);
}

void sameFloats(const TraceTensor<float>& a, const TraceTensor<float>& b, const std::string& what) {
  QVERIFY2(a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data()),
           what + " differs");
}

GenerateRequest steered(const ModelSpec& s, bool greedy) {
  GenerateRequest req;
  req.maxTokens = 12;
  req.stopAtEos = false;
  req.sampling.greedy = greedy;
  req.sampling.temperature = 0.9f;
  req.sampling.topK = 20;
  req.sampling.topP = 0.95f;
  req.sampling.seed = 1234;
  std::vector<float> v(size_t(s.nEmbd));
  for (int i = 0; i < s.nEmbd; ++i) v[size_t(i)] = 0.5f * std::sin(0.31f * i);
  req.interventions.steering.push_back({2, 3.0f, 2, v});
  if (s.nExpert > 0) {
    req.interventions.router.push_back({1, 0, RouterEditKind::Ban, 0});
    req.interventions.router.push_back({3, 2, RouterEditKind::Force, 0});
  }
  return req;
}

// Sessions opened on worker threads: each an engine of its own on the shared model.
struct Opened {
  std::mutex mu;
  std::vector<std::weak_ptr<Engine>> engines;
};

ServeHooks sessionHooks(std::shared_ptr<const Model> model, Opened& opened, int maxSessions) {
  ServeHooks h;
  h.maxSessions = maxSessions;
  h.openEngine = [model, &opened](const std::string& spec) {
    if (spec != "stories") throw std::invalid_argument("unknown spec " + spec);
    auto s = std::make_shared<Session>();
    s->attach(model, parity::testBackend());
    std::shared_ptr<Engine> e(s, &s->engine());
    std::lock_guard<std::mutex> lock(opened.mu);
    opened.engines.push_back(e);
    return e;
  };
  return h;
}

}  // namespace

LL_TEST(generateGreedyDense) {
  auto m = fixture("stories260K.gguf");
  GenerateRequest req;
  req.maxTokens = 16;
  req.stopAtEos = false;
  generateEqualsWhole("stories260K.gguf", 2, req);
  generateEqualsWhole("stories260K.gguf", 3, steered(m->spec, true));
}

LL_TEST(generateSampledDenseAndMoe) {
  generateEqualsWhole("stories260K.gguf", 3, steered(fixture("stories260K.gguf")->spec, false));
  const auto moe = fixture("stories260K-moe4.gguf")->spec;
  generateEqualsWhole("stories260K-moe4.gguf", 2, steered(moe, false));
  generateEqualsWhole("stories260K-moe4.gguf", 3, steered(moe, true));
}

// A run, a generation, then a run of the grown prompt (a server session's sequence): the
// generation's passes leave every stage's trace kept for reuse as one engine's, so the second
// run reuses the same rows and gives the same bits.
LL_TEST(runAfterGenerationAsOneProcess) {
  LL_REQUIRE_SHARED();
  for (const char* file : {"stories260K.gguf", "stories260K-moe4.gguf"}) {
    auto model = fixture(file);
    Session whole;
    whole.attach(model, parity::testBackend());
    Rig rig(model, 3);
    GenerateRequest g;
    g.maxTokens = 6;
    g.stopAtEos = false;
    std::string text = "Tom had a dog named";
    for (int step = 0; step < 3; ++step) {
      text += " Max";
      const std::string what = std::string(file) + " step " + std::to_string(step);
      whole.setPrompt(text, -1);
      rig.session().setPrompt(text, -1);
      auto want = whole.run();
      auto got = rig.session().run();
      QCOMPARE(got->reusedRows, want->reusedRows);
      sameFloats(got->logits, want->logits, what + " logits");
      for (int l = 0; l < model->spec.nLayer; ++l)
        sameFloats(got->layers[size_t(l)].resid, want->layers[size_t(l)].resid,
                   what + " resid " + std::to_string(l));
      QVERIFY2(rig.session().generate(g).ids == whole.generate(g).ids, what + " generation");
      // An analysis's own pass (unpublished, on the engine directly) goes over the stages too.
      const auto& ids = whole.promptIds();
      auto a = ana::runIds(rig.session(), ids, {}, true);
      auto b = ana::runIds(whole, ids, {}, true);
      sameFloats(a->logits, b->logits, what + " analysis pass logits");
      sameFloats(a->layers[3].resid, b->layers[3].resid, what + " analysis pass resid 3");
    }
  }
}

// Two sessions take turns on the same three ranks, each with its own prompt edits: every pass
// equals its own single engine's, and each session's prefix reuse survives the other's passes.
LL_TEST(sessionsInterleavedKeepTheirOwnStages) {
  LL_REQUIRE_SHARED();
  auto model = fixture("stories260K.gguf");
  Opened opened;
  const ServeHooks hooks = sessionHooks(model, opened, 8);
  const int N = 3;
  Hub hub;
  std::vector<std::unique_ptr<ThreadTransport>> ts;
  for (int r = 0; r < N; ++r) ts.push_back(std::make_unique<ThreadTransport>(hub, r, N));
  PipelineOptions opt;
  opt.timeoutS = 60;
  std::vector<std::jthread> workers;
  for (int r = 1; r < N; ++r)
    workers.emplace_back([&, r] { servePipeline(*ts[size_t(r)], nullptr, opt, hooks); });
  Session a, b, wholeA, wholeB;
  for (Session* s : {&a, &b, &wholeA, &wholeB}) s->attach(model, parity::testBackend());
  {
    PipelineDriver da(*ts[0], a.engine(), opt, 1, "stories");
    std::vector<int32_t> idsA = {1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45};
    std::vector<int32_t> idsB = {1, 200, 150, 100, 50, 60, 70, 80, 90};
    int reusedA = 0, reusedB = 0;
    {
      PipelineDriver db(*ts[0], b.engine(), opt, 2, "stories");
      for (int step = 0; step < 4; ++step) {
        for (int which = 0; which < 2; ++which) {
          PipelineDriver& d = which ? db : da;
          Session& whole = which ? wholeB : wholeA;
          const std::vector<int32_t>& ids = which ? idsB : idsA;
          auto got = d.run(ids, positionsOf(ids), {}, {});
          d.fetchAll();
          auto want = whole.engine().run(ids, positionsOf(ids), {}, {});
          const std::string what = std::string(which ? "B" : "A") + " step " + std::to_string(step);
          QVERIFY2(got->logits.size() == want->logits.size(), what);
          QVERIFY2(std::equal(got->logits.data(), got->logits.data() + got->logits.size(),
                              want->logits.data()),
                   what + ": logits differ");
          for (int l = 0; l < model->spec.nLayer; ++l)
            QVERIFY2(std::equal(
                         got->layers[size_t(l)].resid.data(),
                         got->layers[size_t(l)].resid.data() + got->layers[size_t(l)].resid.size(),
                         want->layers[size_t(l)].resid.data()),
                     what + ": resid " + std::to_string(l) + " differs");
          QCOMPARE(got->reusedRows, want->reusedRows);
          (which ? reusedB : reusedA) += got->reusedRows;
        }
        idsA.push_back(static_cast<int32_t>(50 + step));  // each session grows its own prompt
        idsB[idsB.size() - 1 - size_t(step)] = 7;         // and edits it
      }
      QVERIFY2(reusedA > 20 && reusedB > 10, "a session lost its prefix to the other's passes");
      QCOMPARE(opened.engines.size(), size_t(2 * (N - 1)));
    }  // closes session 2 on the ranks
    // Session 1 still runs (a round trip: the ranks handled the close before answering).
    da.run(idsA, positionsOf(idsA), {}, {});
    std::lock_guard<std::mutex> lock(opened.mu);
    int alive = 0;
    for (const auto& w : opened.engines) alive += !w.expired();
    QCOMPARE(alive, N - 1);  // session 2's engines were freed
  }
  stopServing(*ts[0], opt);
}

// The ranks keep at most maxSessions; one more is refused with the rank that refused it, and a
// spec a rank cannot open is refused the same way. A refused session leaves nothing behind.
LL_TEST(sessionsBoundedAndRefusalsNamed) {
  LL_REQUIRE_SHARED();
  auto model = fixture("stories260K.gguf");
  Opened opened;
  const ServeHooks hooks = sessionHooks(model, opened, 1);
  Hub hub;
  ThreadTransport t0(hub, 0, 2), t1(hub, 1, 2);
  PipelineOptions opt;
  opt.timeoutS = 60;
  std::jthread worker([&] { servePipeline(t1, nullptr, opt, hooks); });
  Session a, b;
  a.attach(model, parity::testBackend());
  b.attach(model, parity::testBackend());
  {
    PipelineDriver da(t0, a.engine(), opt, 1, "stories");
    std::string msg;
    try {
      PipelineDriver db(t0, b.engine(), opt, 2, "stories");
    } catch (const std::runtime_error& e) {
      msg = e.what();
    }
    QVERIFY2(msg.find("rank 1 (layers 2-4): this rank holds 1 sessions") != std::string::npos, msg);
    const std::vector<int32_t> ids = {1, 5, 6, 7};
    auto tr = da.run(ids, positionsOf(ids), {}, {});
    da.fetchHead();
    QCOMPARE(tr->logits.size(), size_t(4) * model->spec.nVocab);
  }
  // Session 1 closed: a new one fits again, unless the ranks cannot open what it names.
  std::string msg;
  try {
    PipelineDriver db(t0, b.engine(), opt, 3, "other");
  } catch (const std::runtime_error& e) {
    msg = e.what();
  }
  QVERIFY2(msg.find("rank 1 (layers 2-4): unknown spec other") != std::string::npos, msg);
  {
    PipelineDriver db(t0, b.engine(), opt, 4, "stories");
    const std::vector<int32_t> ids = {1, 5};
    db.run(ids, positionsOf(ids), {}, {});
  }
  stopServing(t0, opt);
}

LL_TEST_MAIN("tst_pipeline_sessions")
