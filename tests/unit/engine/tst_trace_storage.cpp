// Trace storage: captures kept in backend buffers (forced on the CPU here, the GPU's default)
// read back lazily and bit for bit equal to the host path, concurrently from several threads and
// after the Session is gone; prefix reuse builds the new trace in the buffers of a trace nobody
// else holds, and never touches a trace a client still holds. CPU results are bit-identical for
// any thread count. Any lazy source is filled once, shared by copies, and retried after a failure.
// Buffers of dead traces serve later passes without carrying anything over.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include "lltest.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;

namespace {

std::shared_ptr<const Model> model(const char* file) {
  static std::map<std::string, std::shared_ptr<const Model>> cache;
  auto& m = cache[file];
  if (!m) m = loadModel(lltest::sharedDir() / "models" / file);
  return m;
}

// One CPU thread: identical runs are bit-identical, so the two storage paths can be compared
// with memcmp.
std::unique_ptr<Session> session(const char* file, bool device) {
  auto s = std::make_unique<Session>();
  s->attach(model(file), {"cpu", 1});
  s->engine().setDeviceCaptures(device);
  return s;
}

bool same(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Values one trace recomputes and the other stored: equal to float rounding.
bool nearlyEqual(const std::vector<float>& x, const std::vector<float>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::fabs(x[i] - y[i]) > 1e-5f * (1.0f + std::fabs(y[i]))) return false;
  return true;
}

// Queries both traces store are bit-identical; rows one of them recomputes (a host trace keeps
// only its last rows) agree to float rounding.
bool queriesMatch(const Trace& a, const Trace& b, int l) {
  const int T = a.nTokens, stored = std::max(a.qFrom, b.qFrom);
  if (T != b.nTokens || !same(a.queries(l, stored, T), b.queries(l, stored, T))) return false;
  return nearlyEqual(a.queries(l, 0, stored), b.queries(l, 0, stored));
}

void requireIdentical(const Trace& a, const Trace& b, const std::string& what) {
  QCOMPARE(a.nTokens, b.nTokens);
  QVERIFY2(same(a.logits, b.logits), what + ": logits differ");
  QVERIFY2(same(a.embd, b.embd), what + ": embd differs");
  QVERIFY2(nearlyEqual(a.finalNormRows(0, a.nTokens), b.finalNormRows(0, b.nTokens)),
           what + ": final norm differs");
  QCOMPARE(a.layers.size(), b.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const LayerTrace &x = a.layers[l], &y = b.layers[l];
    const std::string at = what + " layer " + std::to_string(l) + ": ";
    QVERIFY2(same(x.resid, y.resid), at + "resid differs");
    QVERIFY2(same(x.residMid, y.residMid), at + "residMid differs");
    QVERIFY2(queriesMatch(a, b, static_cast<int>(l)), at + "queries differ");
    QVERIFY2(same(x.k, y.k), at + "k differs");
    QVERIFY2(same(x.entropy, y.entropy), at + "entropy differs");
    QVERIFY2(same(x.lastRow, y.lastRow), at + "lastRow differs");
    QVERIFY2(same(x.colSum, y.colSum), at + "colSum differs");
    QVERIFY2(same(x.routerLogits, y.routerLogits), at + "router logits differ");
    QVERIFY2(x.experts == y.experts, at + "experts differ");
  }
}

std::vector<int32_t> prompt(int n, int vocab, int salt) {
  std::vector<int32_t> ids = {1};
  for (int i = 1; i < n; ++i) ids.push_back(3 + (i * 7919 + salt * 104729) % (vocab - 3));
  return ids;
}

}  // namespace

LL_TEST(deviceCapturesEqualHostBitForBit) {
  LL_REQUIRE_SHARED();
  for (const char* file : {"stories260K.gguf", "llama-moe.gguf"}) {
    auto host = session(file, false), dev = session(file, true);
    const int V = host->model().spec.nVocab;
    auto ids = prompt(37, V, 1);
    host->setPromptIds(ids);
    dev->setPromptIds(ids);
    auto a = host->run();
    auto b = dev->run();
    QVERIFY(a->deviceBytes() == 0);
    QVERIFY(b->deviceBytes() > 0);
    // The host trace stores the last rows' queries and no final norm; the device one stores all.
    QCOMPARE(a->qFrom, 37 - Trace::kQueryTailRows);
    QCOMPARE(a->layers[0].qTail.size(), size_t(Trace::kQueryTailRows) * a->nHead * a->headDim);
    QVERIFY(a->finalNorm.empty() && a->recompute);
    QCOMPARE(b->qFrom, 0);
    QVERIFY(!b->finalNorm.empty() && !b->recompute);
    QVERIFY(!b->layers[0].resid.hostReady());  // nothing was downloaded during the pass
    requireIdentical(*a, *b, std::string(file) + " full run");
    QVERIFY(b->layers[0].resid.hostReady());
    // Attention maps read Q/K from backend memory directly.
    for (int layer : {0, host->model().spec.nLayer - 1})
      QVERIFY(same(host->attentionMap(*a, layer, -1), dev->attentionMap(*b, layer, -1)));
    // Prefix reuse (edit, insert, truncate), each in place in the dropped trace's buffers.
    a.reset();
    b.reset();
    for (int step = 0; step < 3; ++step) {
      if (step == 0) ids[30] = 5;
      if (step == 1) ids.insert(ids.begin() + 20, 7);
      if (step == 2) ids.resize(25);
      host->setPromptIds(ids);
      dev->setPromptIds(ids);
      auto x = host->run(), y = dev->run();
      QVERIFY(y->reusedRows > 0);
      requireIdentical(*x, *y, std::string(file) + " reuse step " + std::to_string(step));
    }
  }
}

LL_TEST(lazyDownloadIsThreadSafe) {
  LL_REQUIRE_SHARED();
  auto host = session("stories260K.gguf", false), dev = session("stories260K.gguf", true);
  auto ids = prompt(50, host->model().spec.nVocab, 2);
  host->setPromptIds(ids);
  dev->setPromptIds(ids);
  auto want = host->run();
  for (int round = 0; round < 5; ++round) {
    dev->resetCache();
    auto got = dev->run();
    std::vector<std::thread> readers;
    std::vector<int> ok(8, 0);
    for (int t = 0; t < 8; ++t)
      readers.emplace_back([&, t] {
        bool all = true;
        for (int l = 0; l < got->nLayer; ++l) {
          const int li = (l + t) % got->nLayer;
          // want (host) recomputes its early query rows: concurrent requests share one engine.
          all = all && same(got->layers[li].resid, want->layers[li].resid) &&
                queriesMatch(*got, *want, li);
        }
        ok[t] = all && same(got->logits, want->logits);
      });
    for (auto& r : readers) r.join();
    for (int t = 0; t < 8; ++t) QVERIFY2(ok[t], "reader " + std::to_string(t) + " saw other data");
  }
}

LL_TEST(deviceTraceOutlivesSession) {
  LL_REQUIRE_SHARED();
  auto host = session("stories260K.gguf", false);
  std::shared_ptr<const Trace> kept;
  auto ids = prompt(20, host->model().spec.nVocab, 3);
  {
    auto dev = session("stories260K.gguf", true);
    dev->setPromptIds(ids);
    kept = dev->run();
  }  // the Session, its engine and its reference to the backend are gone
  host->setPromptIds(ids);
  requireIdentical(*host->run(), *kept, "after the session");
  Trace copy = *kept;  // copies share the backend blocks and read the same data
  requireIdentical(copy, *kept, "copy");
}

const float* storage(Session& s, const TraceTensor<float>& t) {
  return t.onDevice() ? t.deviceDataOn(s.engine().backend()) : t.data();
}

// Session `drops` lets its traces go (the update is built in place), session `keeps` holds each
// one (the update allocates): results are bit-identical and a held trace never changes.
LL_TEST(reuseInPlaceOnlyWhenUnshared) {
  LL_REQUIRE_SHARED();
  for (bool device : {false, true}) {
    const std::string tag = device ? "device" : "host";
    auto drops = session("llama-moe.gguf", device), keeps = session("llama-moe.gguf", device);
    auto ids = prompt(40, drops->model().spec.nVocab, 4);
    drops->setPromptIds(ids);
    keeps->setPromptIds(ids);
    auto kept = keeps->run();
    const float* buf = storage(*drops, drops->run()->layers[1].resid);
    const int Lq = kept->nLayer - 1;
    const std::vector<float> r2 = kept->layers[1].resid.host(),
                             qLast = kept->layers[Lq].qTail.host(),
                             lg = kept->logits.host();  // host copies
    std::vector<std::shared_ptr<const Trace>> held;
    for (int step = 0; step < 4; ++step) {
      if (step == 0) ids[35] = 9;                       // same length
      if (step == 1) ids.insert(ids.begin() + 30, 12);  // longer: buffers grow
      if (step == 2) ids.resize(33);                    // shorter
      if (step == 3) ids[5] = 17;                       // early edit: many old rows
      drops->setPromptIds(ids);
      keeps->setPromptIds(ids);
      auto a = drops->run();
      auto b = keeps->run();
      QVERIFY(a->reusedRows > 0);
      QCOMPARE(a->reusedRows, b->reusedRows);
      requireIdentical(*a, *b, tag + " step " + std::to_string(step));
      QVERIFY2(same(kept->layers[1].resid, r2) && same(kept->layers[Lq].qTail, qLast) &&
                   same(kept->logits, lg),
               tag + ": a held trace changed at step " + std::to_string(step));
      if (step == 0)
        QVERIFY2(storage(*drops, a->layers[1].resid) == buf,
                 tag + ": the update did not reuse the dropped trace's buffer");
      QVERIFY(storage(*keeps, b->layers[1].resid) != storage(*keeps, kept->layers[1].resid));
      held.push_back(b);
    }
  }
}

bool sameComponents(const Trace& a, const Trace& b) {
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const LayerTrace &x = a.layers[l], &y = b.layers[l];
    if (!same(x.attnOut, y.attnOut) || !same(x.mlpOut, y.mlpOut) || !same(x.headOut, y.headOut))
      return false;
  }
  return true;
}

size_t pooledBytes(Session& s) {
  return s.engine().capturePoolStats().reusedBytes;
}

// A pass takes the host capture buffers of traces that died (dropped by the client, or by
// resetCache) and writes them whole: it equals a pass in fresh memory bit for bit whatever they
// held (another prompt, another length, components, an early exit's zeros or the reverse), and
// a trace the client still holds is never taken.
LL_TEST(pooledCapturesCarryNothingOver) {
  LL_REQUIRE_SHARED();
  for (const char* file : {"stories260K.gguf", "llama-moe.gguf"}) {
    auto pooled = session(file, false);
    const int V = pooled->model().spec.nVocab;
    RunRequest plain, comp, early;
    comp.capture.components = true;
    early.capture.lastLayer = 0;
    struct Step {
      int len, salt;
      const RunRequest* req;
    };
    // 41 rows fit 40-row buffers' spare capacity; 33 take them with room to spare.
    const std::vector<Step> steps = {{40, 11, &comp},  {40, 12, &comp},  {33, 13, &comp},
                                     {41, 14, &plain}, {41, 15, &early}, {41, 16, &comp}};
    size_t reused = 0;
    for (size_t i = 0; i < steps.size(); ++i) {
      const std::string tag = std::string(file) + " pass " + std::to_string(i);
      pooled->resetCache();  // the previous trace dies: its buffers go to the pool
      const auto ids = prompt(steps[i].len, V, steps[i].salt);
      pooled->setPromptIds(ids);
      const auto got = pooled->run(*steps[i].req);
      auto fresh = session(file, false);
      fresh->setPromptIds(ids);
      const auto want = fresh->run(*steps[i].req);
      QCOMPARE(pooledBytes(*fresh), size_t(0));
      requireIdentical(*got, *want, tag);
      QVERIFY2(sameComponents(*got, *want), tag + ": components differ");
      if (i > 0) QVERIFY2(pooledBytes(*pooled) > reused, tag + ": no pooled buffer was taken");
      reused = pooledBytes(*pooled);
    }
    // Typing while the GUI holds the previous trace: each update allocates (the held trace is
    // not recycled) from the buffers of the trace before it. The reference session holds every
    // trace, so it never takes a pooled buffer.
    auto holds = session(file, false);
    pooled->resetCache();
    auto ids = prompt(40, V, 17);
    std::vector<std::shared_ptr<const Trace>> all;
    std::shared_ptr<const Trace> shown;
    for (int step = 0; step < 4; ++step) {
      const std::string tag = std::string(file) + " typing step " + std::to_string(step);
      if (step > 0) ids.push_back(3 + step);
      pooled->setPromptIds(ids);
      holds->setPromptIds(ids);
      const size_t before = pooledBytes(*pooled);
      auto next = pooled->run(comp);
      all.push_back(holds->run(comp));
      if (step >= 2) QVERIFY2(pooledBytes(*pooled) > before, tag + ": no pooled buffer taken");
      QCOMPARE(next->reusedRows, all.back()->reusedRows);
      requireIdentical(*next, *all.back(), tag);
      QVERIFY2(sameComponents(*next, *all.back()), tag + ": components differ");
      shown = next;  // drops the one before: it goes to the pool
    }
    QCOMPARE(pooledBytes(*holds), size_t(0));
  }
}

// attentionMap(..., rowBegin) computes rows [rowBegin, T) only (their queries stored or
// recomputed) and leaves earlier rows zero; the computed rows equal the full map's.
LL_TEST(attentionMapFromARow) {
  LL_REQUIRE_SHARED();
  auto s = session("llama-moe.gguf", false);
  s->setPromptIds(prompt(50, s->model().spec.nVocab, 8));
  const auto tr = s->run();
  const int T = tr->nTokens;
  QVERIFY(tr->qFrom > 10 && tr->qFrom < 40);
  for (int head : {-1, 1}) {
    const auto full = s->attentionMap(*tr, 1, head);
    for (int r : {1, 10, tr->qFrom, 40, T - 1}) {
      const auto part = s->attentionMap(*tr, 1, head, r);
      QCOMPARE(part.size(), full.size());
      for (size_t i = 0; i < size_t(r) * T; ++i) QCOMPARE(part[i], 0.0f);
      std::vector<float> a(part.begin() + size_t(r) * T, part.end()),
          b(full.begin() + size_t(r) * T, full.end());
      QVERIFY2(nearlyEqual(a, b), "rows from " + std::to_string(r) + " differ");
    }
  }
}

// CPU results do not depend on the thread count (matmul panels and elementwise chunks have fixed
// boundaries): 1, 2 and 3 threads give bit-identical traces, for f32, f16 and Q8_0 weights.
LL_TEST(identicalForAnyThreadCount) {
  LL_REQUIRE_SHARED();
  for (const char* file : {"stories260K.gguf", "llama-moe.gguf", "gpt2-tiny-f16.gguf",
                           "quant/llama-quant-Q8_0.gguf"}) {
    std::shared_ptr<const Trace> first;
    for (int threads : {1, 2, 3}) {
      Session s;
      s.attach(model(file), {"cpu", threads});
      s.setPromptIds(prompt(250, s.model().spec.nVocab, 9));
      auto t = s.run();
      if (first)
        requireIdentical(*first, *t,
                         std::string(file) + " " + std::to_string(threads) + " threads");
      else
        first = t;
    }
  }
}

// A long prompt's pass does not leave its [T, ff] / [T, d] scratch behind on the CPU: after it
// only buffers of at most Engine::kKeepScratchBytes remain (what a generation step needs), the
// steps after it keep a steady scratch, and a pass that allocates its buffers again gives the
// same bits as the first.
LL_TEST(longPassScratchIsReleased) {
  LL_REQUIRE_SHARED();
  Session s;
  s.attach(model("quant/llama-quant-F32.gguf"), {"cpu", 2});
  const ModelSpec& spec = s.model().spec;
  const int T = 300;  // [T, d] = 300 KiB and [T, ff] = 900 KiB at d 256, ff 768
  QVERIFY(size_t(T) * spec.nEmbd * 4 > Engine::kKeepScratchBytes);
  s.setPromptIds(prompt(T, spec.nVocab, 4));
  auto first = s.run();
  const size_t afterLong = s.engine().scratchBytes();
  std::printf("INFO   : scratch after a %d-row pass: %zu bytes\n", T, afterLong);
  QVERIFY2(afterLong <= 4 * Engine::kKeepScratchBytes,
           "scratch kept after the long pass: " + std::to_string(afterLong) + " bytes");
  ll::rt::GenerateRequest g;
  g.maxTokens = 3;
  g.stopAtEos = false;
  s.generate(g);
  const size_t afterStep = s.engine().scratchBytes();
  s.generate(g);
  QCOMPARE(s.engine().scratchBytes(), afterStep);
  s.resetCache();
  auto again = s.run();
  requireIdentical(*first, *again, "long pass after the scratch was released");
}

// Sessions attached with attachSharing use the donor's weights (one copy per backend) and keep
// their own KV caches: interleaved runs on the donor and the sharer equal a session of their own,
// and the sharer keeps working after the donor is gone.
LL_TEST(sharedWeightsSessionsStayIndependent) {
  LL_REQUIRE_SHARED();
  for (const char* file : {"stories260K.gguf", "llama-moe.gguf"}) {
    auto own = session(file, false);
    auto donor = session(file, false);
    auto sharer = std::make_unique<Session>();
    sharer->attachSharing(*donor);
    QVERIFY(&sharer->engine().weights() == &donor->engine().weights());
    QVERIFY(&sharer->engine().backend() == &donor->engine().backend());
    QVERIFY(&own->engine().weights() != &donor->engine().weights());
    const int V = own->model().spec.nVocab;
    const auto a = prompt(29, V, 5), b = prompt(23, V, 6);
    donor->setPromptIds(a);
    sharer->setPromptIds(b);
    const auto ta = donor->run();
    const auto tb = sharer->run();  // must not see the donor's cache
    own->setPromptIds(b);
    requireIdentical(*own->run(), *tb, std::string(file) + " sharer");
    own->resetCache();  // a cold run, like the donor's (reuse of one BOS row rounds differently)
    own->setPromptIds(a);
    requireIdentical(*own->run(), *ta, std::string(file) + " donor");
    donor.reset();
    auto b2 = b;
    b2.back() = 3 + (b2.back() + 1) % (V - 3);  // an edit at the end: prefix reuse in the sharer
    sharer->setPromptIds(b2);
    own->resetCache();
    own->setPromptIds(b);
    own->run();  // the same cache state as the sharer's: b, then the edit
    own->setPromptIds(b2);
    const auto tb2 = sharer->run();
    QCOMPARE(tb2->reusedRows, int(b2.size()) - 1);
    requireIdentical(*own->run(), *tb2, std::string(file) + " sharer after the donor is gone");
  }
}

// Any LazySource (the device download's interface, used by the pipeline's remote fetch): filled
// once on the first read, by one thread when several read at once; copies share the filled copy;
// a source that fails throws to the reader, keeps nothing and is asked again on the next read.
LL_TEST(lazySourceFillsOnceAndRetriesAfterFailure) {
  struct Counting : LazySource {
    mutable std::atomic<int> calls{0};
    mutable std::atomic<bool> fail{true};
    void fill(void* dst, size_t bytes) const override {
      ++calls;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // readers overlap
      if (fail) throw std::runtime_error("rank 1 is gone");
      float* f = static_cast<float*>(dst);
      for (size_t i = 0; i < bytes / sizeof(float); ++i) f[i] = float(i) * 0.5f;
    }
  };
  auto src = std::make_shared<Counting>();
  TraceTensor<float> t;
  t.assignLazy(src, 6);
  QCOMPARE(t.size(), size_t(6));
  QVERIFY(!t.hostReady() && !t.onDevice());
  std::string msg;
  try {
    (void)t.data();
  } catch (const std::runtime_error& e) {
    msg = e.what();
  }
  QCOMPARE(msg, std::string("rank 1 is gone"));
  QVERIFY(!t.hostReady());
  src->fail = false;
  const TraceTensor<float> copy = t;  // made before the fill: shares it
  {
    std::vector<std::jthread> readers;
    for (int i = 0; i < 4; ++i) readers.emplace_back([&] { (void)t[5]; });
  }
  QCOMPARE(src->calls.load(), 2);
  QVERIFY(copy.hostReady());
  QVERIFY(same(copy, {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 2.5f}));
  bool refused = false;
  try {
    (void)t.hostData();  // a lazily filled tensor is never written
  } catch (const std::logic_error&) {
    refused = true;
  }
  QVERIFY(refused);
}

LL_TEST_MAIN("tst_trace_storage")
