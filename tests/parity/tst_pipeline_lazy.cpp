// Captures left on the ranks that made them (runtime/dist, ranks as threads): a lazy pass
// (PipelineDriver::lazyTrace, as `serve` hands traces out) holds only rank 0's layers; a read of
// another rank's tensor fetches exactly that tensor once, whichever threads read it at once; an
// older trace read after newer passes (the ranks keep it by pass number) equals one engine's bit
// for bit; a pass past the ranks' bound, a closed session and a rank that stops answering give
// the reader a clear error, never a crash.
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

// A transport that loses every reply from one rank once `dead` is set (a rank that hangs: its
// messages never come); everything else goes through.
class Hanging : public Transport {
 public:
  Hanging(Transport& t, int rank) : m_t(t), m_rank(rank) {}
  int rank() const override { return m_t.rank(); }
  int size() const override { return m_t.size(); }
  void send(int to, int tag, const void* d, size_t n, double s, const std::string& w) override {
    m_t.send(to, tag, d, n, s, w);
  }
  std::vector<char> recv(int from, int tag, size_t most, double s, const std::string& w) override {
    if (dead && from == m_rank)
      throw TransportError("nothing from rank " + std::to_string(from) + " (" + w +
                           "; it died or hangs)");
    return m_t.recv(from, tag, most, s, w);
  }
  bool poll(int from, int tag) override { return !(dead && from == m_rank) && m_t.poll(from, tag); }
  void abort(const std::string& why) override { m_t.abort(why); }
  bool dead = false;

 private:
  Transport& m_t;
  int m_rank;
};

// nRanks ranks as threads serving session 0; rank 0's driver hands out lazy traces, its fetches
// under `pipe` (what `serve`'s one pipeline lock does), a rank that fails one marking it broken.
struct Rig {
  Rig(std::shared_ptr<const Model> model, int nRanks) {
    opt.timeoutS = 60;
    for (int r = 0; r < nRanks; ++r) {
      ranks.push_back(std::make_unique<Session>());
      ranks.back()->attach(model, parity::testBackend());
      ts.push_back(std::make_unique<ThreadTransport>(hub, r, nRanks));
    }
    hanging = std::make_unique<Hanging>(*ts[0], nRanks - 1);
    for (int r = 1; r < nRanks; ++r)
      workers.emplace_back(
          [this, r] { servePipeline(*ts[size_t(r)], ranks[size_t(r)]->engine(), opt); });
    driver = std::make_unique<PipelineDriver>(*hanging, ranks[0]->engine(), opt);
    driver->setFetchGuard([this](const std::function<void()>& fetch) {
      std::lock_guard<std::mutex> lock(pipe);
      if (!broken.empty()) throw std::runtime_error("the pipeline is down (" + broken + ")");
      try {
        fetch();
      } catch (const TransportError& e) {
        broken = e.what();
        throw;
      }
    });
  }
  ~Rig() {
    std::lock_guard<std::mutex> lock(pipe);
    hanging->dead = false;
    driver.reset();  // stops the workers before they are joined
  }
  std::shared_ptr<const Trace> run(const std::vector<int32_t>& ids) {
    std::lock_guard<std::mutex> lock(pipe);
    driver->run(ids, positionsOf(ids), {}, {});
    return driver->lazyTrace();
  }

  Hub hub;
  PipelineOptions opt;
  std::vector<std::unique_ptr<Session>> ranks;
  std::vector<std::unique_ptr<ThreadTransport>> ts;
  std::unique_ptr<Hanging> hanging;
  std::vector<std::jthread> workers;
  std::mutex pipe;
  std::string broken;
  std::unique_ptr<PipelineDriver> driver;
};

std::shared_ptr<const Model> fixture(const std::string& file) {
  return std::shared_ptr<const Model>(loadModel(lltest::sharedDir() / "models" / file));
}

const std::vector<int32_t> kPrompt = {1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 49, 53};

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace

// After a pass only rank 0's layers are resident on rank 0 (the others' small arrays came with
// the pass); reading layer l's keys fetches exactly that tensor, once, however many threads read
// it at the same time; then every array equals one engine's.
LL_TEST(lazyPassHoldsOnlyRankZerosLayers) {
  LL_REQUIRE_SHARED();
  for (const char* file : {"stories260K.gguf", "stories260K-moe4.gguf"}) {
    auto model = fixture(file);
    Session whole;
    whole.attach(model, parity::testBackend());
    Rig rig(model, 3);
    const auto stages = rig.driver->stages();
    auto tr = rig.run(kPrompt);
    auto want = whole.engine().run(kPrompt, positionsOf(kPrompt), {}, {});
    QCOMPARE(rig.driver->fetchStats().commands, uint64_t(0));
    for (int l = 0; l < tr->nLayer; ++l) {
      const LayerTrace& L = tr->layers[size_t(l)];
      const bool own = l < stages[0].last;
      QVERIFY2(L.resid.hostReady() == own && L.k.hostReady() == own &&
                   L.residMid.hostReady() == own && L.qTail.hostReady() == own,
               std::string(file) + " layer " + std::to_string(l) + " residency");
      QCOMPARE(L.resid.size(), want->layers[size_t(l)].resid.size());
      // The small arrays travelled with the pass.
      same(L.entropy, want->layers[size_t(l)].entropy, "entropy " + std::to_string(l));
      same(L.routerLogits, want->layers[size_t(l)].routerLogits, "router " + std::to_string(l));
    }
    QVERIFY(!tr->logits.hostReady());
    const int l = stages[2].first;  // a layer of the last rank
    const LayerTrace& L = tr->layers[size_t(l)];
    std::vector<std::jthread> readers;
    for (int i = 0; i < 4; ++i) readers.emplace_back([&] { (void)L.k.data(); });
    readers.clear();
    const auto stats = rig.driver->fetchStats();
    QCOMPARE(stats.commands, uint64_t(1));
    // The tensor's floats plus the reply's status byte and count.
    QCOMPARE(stats.bytes, uint64_t(L.k.bytes() + 9));
    QVERIFY(!L.resid.hostReady() && !tr->layers[size_t(l - 1)].k.hostReady());
    same(L.k, want->layers[size_t(l)].k, "k");
    sameTrace(&whole, *tr, *want, file);
  }
}

// Traces of older passes read after newer ones (a server keeps several per session): the ranks
// kept their captures by pass number, and the newer passes (with prefix reuse) did not build in
// their buffers. A trace read whole as it came also still equals.
LL_TEST(olderTraceReadAfterNewerPasses) {
  LL_REQUIRE_SHARED();
  for (const char* file : {"stories260K.gguf", "stories260K-moe4.gguf"}) {
    auto model = fixture(file);
    Session whole;
    whole.attach(model, parity::testBackend());
    Rig rig(model, 3);
    std::vector<std::shared_ptr<const Trace>> got, want;
    std::vector<int32_t> ids = kPrompt;
    for (int step = 0; step < 4; ++step) {
      got.push_back(rig.run(ids));
      want.push_back(whole.engine().run(ids, positionsOf(ids), {}, {}));
      if (step == 1) sameTrace(&whole, *got.back(), *want.back(), "read at once");
      ids.push_back(static_cast<int32_t>(60 + step));  // prefix reuse on every stage
      ids[3] = static_cast<int32_t>(70 + step);        // and an edit
    }
    QVERIFY(got[3]->reusedRows > 0);
    for (size_t i = 0; i < got.size(); ++i)
      sameTrace(&whole, *got[i], *want[i], std::string(file) + " pass " + std::to_string(i));
    QVERIFY(rig.driver->fetchStats().commands > 0);
  }
}

// Dropping the traces releases their passes on the ranks (sent with the next command), so a
// session that keeps no old trace never reaches the bound; one that keeps more than kKeptPasses
// gets a clear error for the oldest; a trace whose session closed, too.
LL_TEST(droppedPassAndClosedSessionGiveErrors) {
  LL_REQUIRE_SHARED();
  auto model = fixture("stories260K.gguf");
  Rig rig(model, 2);
  const int remote = rig.driver->stages()[1].first;
  for (int i = 0; i < int(kKeptPasses) + 4; ++i) {
    auto tr = rig.run(kPrompt);  // dropped at once: released with the next run
    (void)tr->layers[size_t(remote)].resid.data();
  }
  std::vector<std::shared_ptr<const Trace>> kept;
  for (int i = 0; i < int(kKeptPasses) + 1; ++i) kept.push_back(rig.run(kPrompt));
  std::string msg = errorOf([&] { (void)kept[0]->layers[size_t(remote)].resid.data(); });
  QVERIFY2(msg.find("rank 1 (layers 2-4): layer 2's resid of pass 13: pass 13 is no longer kept") !=
               std::string::npos,
           msg);
  QVERIFY(!kept[0]->layers[size_t(remote)].resid.hostReady());
  // The newest kKeptPasses are there.
  QCOMPARE(errorOf([&] { (void)kept[1]->layers[size_t(remote)].resid.data(); }), std::string());
  auto last = kept.back();
  rig.driver.reset();  // the session closes (session 0: the ranks stop serving)
  msg = errorOf([&] { (void)last->logits.data(); });
  QVERIFY2(msg.find("pass 21: its session's pipeline was closed") != std::string::npos, msg);
}

// A rank that stops answering during a lazy read: the reader gets the transport's error naming
// the rank, the pipeline is marked down, and every later read says so; nothing crashes or hangs.
LL_TEST(hungRankDuringLazyReadGivesErrors) {
  LL_REQUIRE_SHARED();
  auto model = fixture("stories260K.gguf");
  Rig rig(model, 3);
  auto tr = rig.run(kPrompt);
  const auto stages = rig.driver->stages();
  rig.hanging->dead = true;
  std::string msg;
  std::jthread reader([&] { msg = errorOf([&] { (void)tr->logits.data(); }); });
  reader.join();
  QVERIFY2(msg.find("rank 2 (layers 3-4): nothing from rank 2") != std::string::npos, msg);
  QVERIFY(!rig.broken.empty());
  msg = errorOf([&] { (void)tr->layers[size_t(stages[1].first)].k.data(); });
  QVERIFY2(msg.find("the pipeline is down (rank 2") != std::string::npos, msg);
  // The hung rank's reply stays unread; the rig's teardown still stops every worker (Quit needs
  // no reply).
}

LL_TEST_MAIN("tst_pipeline_lazy")
