// The activation hop between pipeline ranks (runtime/dist/stage_links.h) over in-memory ranks:
// its header (ok, route, rows x width) and payload protocol, a failed pass's header, a receiver
// that fails after an ok header still taking the payload so the next hop stays in step; the
// route's selection (LAYERLENS_PIPELINE_TRANSPORT, NCCL built or not, the stage's backend) and
// the ranks' agreement on it; a whole pipeline over a payload channel of the caller's, which the
// engine feeds from its own buffers.
#include <atomic>
#include <cstring>
#include <thread>

#include "kernels/backends.h"
#include "parity_common.h"
#include "runtime/dist/activation_route.h"
#include "runtime/dist/host_channel.h"
#include "runtime/dist/pipeline.h"
#include "runtime/dist/stage_links.h"
#include "runtime/engine/engine.h"
#include "thread_transport.h"

namespace {

using namespace ll::rt;
using namespace ll::rt::dist;
using pipetest::Hub;
using pipetest::ThreadTransport;

template <class F>
std::string errorOf(F f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

// Floats whose bits must survive exactly: signed zeros, a NaN payload, denormals, extremes.
std::vector<float> oddFloats(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(0.7f * float(i)) * 1e3f;
  v[0] = -0.0f;
  uint32_t nan = 0x7fc01234;
  std::memcpy(&v[1], &nan, 4);
  v[2] = 1e-42f;
  v[3] = -3.4e38f;
  return v;
}

struct Pair {
  Hub hub;
  ThreadTransport t0{hub, 0, 2}, t1{hub, 1, 2};
  HostPayloadChannel c0{t0}, c1{t1};
  std::unique_ptr<ll::kern::Backend> b0 = ll::kern::makeCpuBackend(1),
                                     b1 = ll::kern::makeCpuBackend(1);
};

// One hop of rows x width floats from backend memory on rank 0 into backend memory on rank 1.
void hop(Pair& p, const std::vector<float>& data, uint32_t width) {
  const size_t n = data.size();
  float* src = static_cast<float*>(p.b0->alloc(n * 4));
  float* dst = static_cast<float*>(p.b1->alloc(n * 4));
  p.b0->upload(src, data.data(), n * 4);
  OutboundActivations out(p.t0, p.c0, p.b0.get(), 1, true, width, 5, "test hop");
  out.sendFrom(src, n);
  out.finish();  // already sent: nothing more
  InboundActivations in(p.t1, p.c1, p.b1.get(), 0, 5, "test hop");
  in.expect(uint32_t(n / width), width);
  in.recvInto(dst, n);
  in.drain();  // taken: nothing more
  std::vector<float> got(n);
  p.b1->download(got.data(), dst, n * 4);
  QVERIFY2(std::memcmp(got.data(), data.data(), n * 4) == 0, "the hop changed bits");
  p.b0->free(src);
  p.b1->free(dst);
}

bool mailboxesEmpty(Hub& h) {
  for (auto& [key, box] : h.boxes)
    if (!box.empty()) return false;
  return true;
}

}  // namespace

LL_TEST(headerRoundTripAndMalformed) {
  ActivationHeader h;
  h.ok = true;
  h.route = ActivationRoute::Nccl;
  h.rows = 7;
  h.width = 64;
  const std::vector<char> b = writeHeader(h);
  const ActivationHeader back = readHeader(b);
  QVERIFY(back.ok && back.route == ActivationRoute::Nccl && back.rows == 7 && back.width == 64);
  QVERIFY(!readHeader(writeHeader({})).ok);
  for (size_t cut = 0; cut < b.size(); ++cut)
    QVERIFY2(
        !errorOf([&] { readHeader(std::vector<char>(b.begin(), b.begin() + long(cut))); }).empty(),
        "a header cut at " + std::to_string(cut) + " bytes was accepted");
  std::vector<char> bad = b;
  bad[0] = 2;  // ok is 0 or 1
  QVERIFY(!errorOf([&] { readHeader(bad); }).empty());
  bad = b;
  bad[1] = 9;  // no such route
  QVERIFY(!errorOf([&] { readHeader(bad); }).empty());
  bad = b;
  bad.push_back(0);
  QVERIFY(!errorOf([&] { readHeader(bad); }).empty());
}

// Backend memory to backend memory, bit for bit; every message consumed.
LL_TEST(hopCarriesExactBits) {
  Pair p;
  hop(p, oddFloats(3 * 64), 64);
  hop(p, oddFloats(64), 64);
  QVERIFY(mailboxesEmpty(p.hub));
}

// A pass that failed before its output: the next rank learns it from the header, no payload
// follows, and the next hop is in step.
LL_TEST(failedPassSendsFailedHeader) {
  Pair p;
  {
    OutboundActivations out(p.t0, p.c0, p.b0.get(), 1, true, 64, 5, "test hop");
    out.finish();
  }
  InboundActivations in(p.t1, p.c1, p.b1.get(), 0, 5, "test hop");
  const std::string e = errorOf([&] { in.expect(3, 64); });
  QVERIFY2(e.find("rank 0 failed before its output") != std::string::npos, e);
  in.drain();
  QVERIFY(mailboxesEmpty(p.hub));
  hop(p, oddFloats(2 * 64), 64);
}

// The receiver refuses an ok header (wrong shape), or its own pass fails before taking the
// payload: drain() takes it, so the sender is not left waiting and the next hop is in step.
LL_TEST(receiverFailureDrainsPayload) {
  Pair p;
  for (int wrongShape = 0; wrongShape < 2; ++wrongShape) {
    const std::vector<float> v = oddFloats(3 * 64);
    OutboundActivations out(p.t0, p.c0, p.b0.get(), 1, true, 64, 5, "test hop");
    out.sendFrom(v.data(), v.size());  // CPU backend: host memory is backend memory
    InboundActivations in(p.t1, p.c1, p.b1.get(), 0, 5, "test hop");
    if (wrongShape) {
      const std::string e = errorOf([&] { in.expect(4, 64); });
      QVERIFY2(e.find("announced 3 x 64 floats of residual, expected 4 x 64") != std::string::npos,
               e);
    } else {
      in.expect(3, 64);  // ... and the stage fails before it asks for the rows
    }
    in.drain();
    QVERIFY(mailboxesEmpty(p.hub));
    hop(p, oddFloats(64), 64);
  }
}

// A rank an early exit leaves out expects nothing: sending to it is refused, finish sends
// nothing; an input link does not send, an output link does not receive.
LL_TEST(linksRefuseTheWrongDirection) {
  Pair p;
  std::vector<float> v(64, 1.0f);
  OutboundActivations out(p.t0, p.c0, p.b0.get(), 1, false, 64, 5, "test hop");
  QVERIFY(!errorOf([&] { out.sendFrom(v.data(), v.size()); }).empty());
  out.finish();
  QVERIFY(mailboxesEmpty(p.hub));
  QVERIFY(!errorOf([&] { out.recvInto(v.data(), v.size()); }).empty());
  InboundActivations in(p.t1, p.c1, p.b1.get(), 0, 5, "test hop");
  QVERIFY(!errorOf([&] { in.sendFrom(v.data(), v.size()); }).empty());
  OutboundActivations ragged(p.t0, p.c0, p.b0.get(), 1, true, 64, 5, "test hop");
  QVERIFY(!errorOf([&] { ragged.sendFrom(v.data(), 63); }).empty());  // not whole rows
}

LL_TEST(routeSelection) {
  QVERIFY(parseRouteRequest(nullptr) == RouteRequest::Auto);
  QVERIFY(parseRouteRequest("") == RouteRequest::Auto);
  QVERIFY(parseRouteRequest("auto") == RouteRequest::Auto);
  QVERIFY(parseRouteRequest("mpi") == RouteRequest::Mpi);
  QVERIFY(parseRouteRequest("nccl") == RouteRequest::Nccl);
  std::string e = errorOf([] { parseRouteRequest("NCCL2"); });
  QVERIFY2(
      e.find("LAYERLENS_PIPELINE_TRANSPORT must be 'mpi', 'nccl' or 'auto'") != std::string::npos,
      e);
  // By default: NCCL exactly when it is built and the stage is on a CUDA device.
  QVERIFY(chooseRoute(RouteRequest::Auto, true, true, "cuda") == ActivationRoute::Nccl);
  QVERIFY(chooseRoute(RouteRequest::Auto, false, true, "cuda") == ActivationRoute::Mpi);
  QVERIFY(chooseRoute(RouteRequest::Auto, true, false, "cpu") == ActivationRoute::Mpi);
  QVERIFY(chooseRoute(RouteRequest::Mpi, true, true, "cuda") == ActivationRoute::Mpi);
  QVERIFY(chooseRoute(RouteRequest::Nccl, true, true, "cuda") == ActivationRoute::Nccl);
  // Forced and impossible: a clear error, never a silent fallback.
  e = errorOf([] { chooseRoute(RouteRequest::Nccl, false, true, "cuda"); });
  QVERIFY2(e.find("LAYERLENS_PIPELINE_TRANSPORT=nccl: this layerlens-cli was built without NCCL") !=
               std::string::npos,
           e);
  e = errorOf([] { chooseRoute(RouteRequest::Nccl, true, false, "cpu"); });
  QVERIFY2(e.find("stage runs on the cpu backend; NCCL moves CUDA device buffers only") !=
               std::string::npos,
           e);
  QVERIFY(chooseServeRoute(RouteRequest::Auto) == ActivationRoute::Mpi);
  e = errorOf([] { chooseServeRoute(RouteRequest::Nccl); });
  QVERIFY2(e.find("activations go over MPI") != std::string::npos, e);
}

// Every rank ends with the same route: NCCL only when all chose it.
LL_TEST(ranksAgreeOnTheRoute) {
  using R = ActivationRoute;
  for (const std::vector<R>& mine :
       {std::vector<R>{R::Nccl, R::Nccl, R::Nccl}, std::vector<R>{R::Nccl, R::Mpi, R::Nccl},
        std::vector<R>{R::Mpi, R::Nccl, R::Nccl}}) {
    Hub hub;
    std::vector<std::unique_ptr<ThreadTransport>> ts;
    for (int r = 0; r < 3; ++r) ts.push_back(std::make_unique<ThreadTransport>(hub, r, 3));
    std::vector<R> got(3);
    {
      std::vector<std::jthread> ranks;
      for (int r = 0; r < 3; ++r)
        ranks.emplace_back(
            [&, r] { got[size_t(r)] = agreeOnRoute(*ts[size_t(r)], mine[size_t(r)], 5); });
    }
    const R want =
        mine[0] == R::Nccl && mine[1] == R::Nccl && mine[2] == R::Nccl ? R::Nccl : R::Mpi;
    for (R g : got) QVERIFY(g == want);
    QVERIFY(mailboxesEmpty(hub));
  }
}

namespace {

// The host route, counting the floats it carries: proves a pipeline given a channel of its own
// (PipelineOptions::payload, as NCCL's is given) sends every hop's payload through it.
class CountingChannel : public PayloadChannel {
 public:
  explicit CountingChannel(Transport& t) : m_host(t) {}
  ActivationRoute route() const override { return ActivationRoute::Mpi; }
  void send(ll::kern::Backend& b, int to, const float* src, size_t n, double timeoutS,
            const std::string& what) override {
    sent += n;
    m_host.send(b, to, src, n, timeoutS, what);
  }
  void recv(ll::kern::Backend& b, int from, float* dst, size_t n, double timeoutS,
            const std::string& what) override {
    received += n;
    m_host.recv(b, from, dst, n, timeoutS, what);
  }
  void discard(int from, size_t n, double timeoutS, const std::string& what) override {
    m_host.discard(from, n, timeoutS, what);
  }
  std::atomic<size_t> sent{0}, received{0};

 private:
  HostPayloadChannel m_host;
};

}  // namespace

LL_TEST(pipelineUsesTheGivenChannel) {
  LL_REQUIRE_SHARED();
  auto model =
      std::shared_ptr<const Model>(loadModel(lltest::sharedDir() / "models" / "stories260K.gguf"));
  Session whole;
  whole.attach(model, parity::testBackend());
  std::vector<std::unique_ptr<Session>> ranks;
  const int N = 3;
  for (int r = 0; r < N; ++r) {
    BackendChoice b = parity::testBackend();
    b.share = {r, N, r == 0 ? WeightScope::Extra::Queries : WeightScope::Extra::None};
    ranks.push_back(std::make_unique<Session>());
    ranks.back()->attach(model, b);
  }
  Hub hub;
  std::vector<std::unique_ptr<ThreadTransport>> ts;
  std::vector<std::unique_ptr<CountingChannel>> chs;
  for (int r = 0; r < N; ++r) {
    ts.push_back(std::make_unique<ThreadTransport>(hub, r, N));
    chs.push_back(std::make_unique<CountingChannel>(*ts.back()));
  }
  std::vector<std::jthread> workers;
  for (int r = 1; r < N; ++r)
    workers.emplace_back([&, r] {
      PipelineOptions opt;
      opt.payload = chs[size_t(r)].get();
      servePipeline(*ts[size_t(r)], ranks[size_t(r)]->engine(), opt);
    });
  PipelineOptions opt;
  opt.payload = chs[0].get();
  PipelineDriver driver(*ts[0], ranks[0]->engine(), opt);
  std::vector<int32_t> ids = {1, 400, 21, 77, 9, 310};
  std::vector<int32_t> pos(ids.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = int32_t(i);
  driver.run(ids, pos, {}, {});
  driver.fetchHead();
  const auto got = driver.run(ids, pos, {}, {});  // the prefix reused: fewer rows travel
  driver.fetchHead();
  QVERIFY(got->reusedRows > 0);
  const size_t rows = 2 * ids.size() - size_t(got->reusedRows);
  const size_t d = size_t(model->spec.nEmbd);
  QCOMPARE(size_t(chs[0]->sent), rows * d);
  QCOMPARE(size_t(chs[1]->received), rows * d);
  QCOMPARE(size_t(chs[1]->sent), rows * d);
  QCOMPARE(size_t(chs[2]->received), rows * d);
  QCOMPARE(size_t(chs[2]->sent), size_t(0));  // the last stage sends nothing on
  whole.engine().run(ids, pos, {}, {});
  const auto want = whole.engine().run(ids, pos, {}, {});
  QCOMPARE(got->logits.size(), want->logits.size());
  QVERIFY(std::memcmp(got->logits.data(), want->logits.data(), want->logits.size() * 4) == 0);
}

LL_TEST_MAIN("tst_pipeline_links")
