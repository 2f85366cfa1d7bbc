// Host-side engine pieces on hand-computed cases: MoE routing with router edits, the sampler,
// the .npy reader/writer (incl. malformed files) and cache invalidation by interventions.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "lltest.h"
#include "runtime/api/npy_io.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/routing.h"
#include "runtime/engine/sampler.h"

using namespace ll::rt;

LL_TEST(routingSoftmaxTopKRenormalised) {
  // z = ln(1), ln(2), ln(3), ln(4): p = 0.1, 0.2, 0.3, 0.4
  std::vector<float> z = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  auto r = route(z.data(), 1, 4, 2, true);
  QCOMPARE(r.experts, (std::vector<int32_t>{3, 2}));
  QVERIFY(std::fabs(r.probs[0] - 0.1f) < 1e-6f && std::fabs(r.probs[3] - 0.4f) < 1e-6f);
  QVERIFY(std::fabs(r.weights[0] - 4.0f / 7.0f) < 1e-6f &&
          std::fabs(r.weights[1] - 3.0f / 7.0f) < 1e-6f);
  auto n = route(z.data(), 1, 4, 2, false);
  QVERIFY(std::fabs(n.weights[0] - 0.4f) < 1e-6f && std::fabs(n.weights[1] - 0.3f) < 1e-6f);
}

LL_TEST(routingTiesGoToLowerIndex) {
  std::vector<float> z = {1.0f, 2.0f, 2.0f, 2.0f};
  auto r = route(z.data(), 1, 4, 2, true);
  QCOMPARE(r.experts, (std::vector<int32_t>{1, 2}));
}

LL_TEST(routerEditsBiasForceBan) {
  std::vector<float> z = {0.5f, 2.0f, 1.0f, -1.0f};
  std::vector<RouterEdit> edits = {{0, 3, RouterEditKind::Bias, 1.25f},
                                   {0, 0, RouterEditKind::Force, 0.0f},
                                   {0, 1, RouterEditKind::Ban, 0.0f},
                                   {1, 2, RouterEditKind::Ban, 0.0f}};  // other layer: ignored
  applyRouterEdits(z.data(), 4, 0, edits);
  QCOMPARE(z[3], 0.25f);
  QCOMPARE(z[0], 2.0f + 1e-3f);  // max(z) + eps, max taken after biases
  QVERIFY(std::isinf(z[1]) && z[1] < 0);
  QCOMPARE(z[2], 1.0f);
  auto r = route(z.data(), 1, 4, 2, false);
  QCOMPARE(r.experts, (std::vector<int32_t>{0, 2}));
  QCOMPARE(r.probs[1], 0.0f);
  // All experts but one banned: the banned ones still fill k slots with weight 0.
  std::vector<float> y = {1, 1, 1};
  applyRouterEdits(y.data(), 3, 0,
                   {{0, 0, RouterEditKind::Ban, 0}, {0, 2, RouterEditKind::Ban, 0}});
  auto q = route(y.data(), 1, 3, 2, true);
  QCOMPARE(q.experts[0], 1);
  QCOMPARE(q.weights[0], 1.0f);
  QCOMPARE(q.weights[1], 0.0f);
}

LL_TEST(samplerGreedyAndSeeds) {
  std::vector<float> l = {0.5f, 3.0f, 3.0f, -1.0f};
  QCOMPARE(argmaxLowest(l.data(), 4), 1);
  SamplingOptions o;
  o.greedy = false;
  o.temperature = 1.0f;
  o.seed = 123;
  Sampler a(o), b(o);
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 50; ++i) {
    sa.push_back(a.next(l.data(), 4));
    sb.push_back(b.next(l.data(), 4));
  }
  QCOMPARE(sa, sb);
  bool saw1 = false, saw2 = false;
  for (int32_t t : sa) {
    saw1 |= t == 1;
    saw2 |= t == 2;
  }
  QVERIFY(saw1 && saw2);
  // top-k 1 is greedy; top-p tiny keeps only the best (ties: lower id first)
  o.topK = 1;
  Sampler c(o);
  for (int i = 0; i < 10; ++i) QCOMPARE(c.next(l.data(), 4), 1);
  o.topK = 0;
  o.topP = 0.01f;
  Sampler d(o);
  for (int i = 0; i < 10; ++i) QCOMPARE(d.next(l.data(), 4), 1);
  // a very low temperature concentrates on the argmax
  std::vector<float> m = {0.0f, 1.0f, 0.5f};
  o.topP = 1.0f;
  o.temperature = 0.01f;
  Sampler e(o);
  for (int i = 0; i < 10; ++i) QCOMPARE(e.next(m.data(), 3), 1);
}

LL_TEST(npyRoundTripAndMalformed) {
  const auto dir = std::filesystem::temp_directory_path() / "ll_engine_npy";
  std::filesystem::create_directories(dir);
  std::vector<float> v = {1.0f, -2.5f, 3.25f, 0.0f, 7.0f, 8.0f};
  writeNpy(dir / "a.npy", v.data(), {2, 3});
  auto r = readNpyF32(dir / "a.npy");
  QCOMPARE(r.shape, (std::vector<int64_t>{2, 3}));
  QCOMPARE(r.data, v);
  writeNpy(dir / "b.npy", v.data(), {6});
  QCOMPARE(readNpyF32(dir / "b.npy").shape, (std::vector<int64_t>{6}));
  auto throwsRuntime = [](const std::filesystem::path& p) {
    try {
      readNpyF32(p);
    } catch (const std::runtime_error& e) {
      return std::string(e.what()).find(p.filename().string()) != std::string::npos;
    }
    return false;
  };
  {  // truncated data
    std::ifstream in(dir / "a.npy", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir / "trunc.npy", std::ios::binary) << all.substr(0, all.size() - 5);
    std::string bad = all;
    bad.replace(bad.find("<f4"), 3, "<i4");
    std::ofstream(dir / "int.npy", std::ios::binary) << bad;
    std::string huge = all;
    huge.replace(huge.find("(2, 3)"), 6, "(99999999, 99999)");
    std::ofstream(dir / "huge.npy", std::ios::binary) << huge;
    std::string wrap = all;  // 2^34 * 2^30 elements: the count wraps to 0 in 64 bits
    wrap.replace(wrap.find("(2, 3)"), 6, "(17179869184, 1073741824)");
    std::ofstream(dir / "wrap.npy", std::ios::binary) << wrap;
  }
  std::ofstream(dir / "junk.npy") << "hello";
  QVERIFY(throwsRuntime(dir / "trunc.npy"));
  QVERIFY(throwsRuntime(dir / "int.npy"));
  QVERIFY(throwsRuntime(dir / "huge.npy"));
  QVERIFY(throwsRuntime(dir / "wrap.npy"));
  QVERIFY(throwsRuntime(dir / "junk.npy"));
  QVERIFY(throwsRuntime(dir / "missing.npy"));
}

LL_TEST(invalidationPoints) {
  Interventions none, a, b;
  QCOMPARE(Engine::invalidationPoint(none, none, 50), 50);
  a.steering.push_back({2, 1.0f, 12, {1.0f}});
  QCOMPARE(Engine::invalidationPoint(none, a, 50), 12);
  QCOMPARE(Engine::invalidationPoint(a, none, 50), 12);
  b = a;
  b.steering[0].fromPos = 7;
  QCOMPARE(Engine::invalidationPoint(a, b, 50), 7);
  b = a;
  b.steering[0].alpha = 2.0f;
  QCOMPARE(Engine::invalidationPoint(a, b, 50), 12);
  b = a;
  b.router.push_back({0, 1, RouterEditKind::Ban, 0});
  QCOMPARE(Engine::invalidationPoint(a, b, 50), 0);
  b = a;
  b.knockout = Knockout{{30, 20}, {1}, 0, 4};
  QCOMPARE(Engine::invalidationPoint(a, b, 50), 20);
  b.knockout->layerEnd = 0;  // empty window: no effect
  QCOMPARE(Engine::invalidationPoint(a, b, 50), 50);
}

LL_TEST_MAIN("tst_engine_units")
