// Op-level parity of the CPU backend (and CUDA, when built and a GPU is present) with the
// reference backend: every op, random inputs with a fresh seed per run, NMSE bounds, NaN/Inf
// and guard-region checks (tests/support/backend_checks.h documents the bounds).
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>

#include "backend_checks.h"
#include "backend_checks_util.h"
#include "kernels/backends.h"
#include "lltest.h"

using namespace ll::kern;
using lltest::ops::CheckLog;
using lltest::ops::Tolerances;

namespace {

using CheckFn = void (*)(Backend&, Backend&, CheckLog&, const Tolerances&);

void runCheck(Backend& b, CheckFn fn) {
  auto ref = makeReferenceBackend();
  CheckLog log;
  log.seed = lltest::ops::freshSeed();
  fn(b, *ref, log, Tolerances{});
  std::printf("INFO   : %s: %d checks, seed %llu\n", b.name().c_str(), log.checks,
              static_cast<unsigned long long>(log.seed));
  QVERIFY2(log.checks > 0, "no checks ran");
  QVERIFY2(log.ok(), log.summary());
}

// Thread counts: 1 (no pool), 3 (more threads than this machine may have cores, uneven splits).
void runCpu(CheckFn fn) {
  for (int threads : {1, 3}) {
    auto b = makeCpuBackend(threads);
    runCheck(*b, fn);
  }
}

void runCuda(CheckFn fn) {
  std::string why;
  auto b = makeCudaBackend(&why);
  if (!b) QSKIP("no CUDA backend: " + why);
  runCheck(*b, fn);
}

}  // namespace

LL_TEST(cpuMemory) {
  runCpu(lltest::ops::checkMemory);
}
LL_TEST(cpuElementwise) {
  runCpu(lltest::ops::checkElementwise);
}
LL_TEST(cpuNorms) {
  runCpu(lltest::ops::checkNorms);
}
LL_TEST(cpuGatherScatter) {
  runCpu(lltest::ops::checkRows);
}
LL_TEST(cpuRope) {
  runCpu(lltest::ops::checkRope);
}
LL_TEST(cpuWeights) {
  runCpu(lltest::ops::checkWeights);
}
LL_TEST(cpuMatmul) {
  runCpu(lltest::ops::checkMatmul);
}
LL_TEST(cpuAttention) {
  runCpu(lltest::ops::checkAttention);
}
LL_TEST(cpuAttentionMap) {
  runCpu(lltest::ops::checkAttentionMap);
}

// Bit-identical results for identical calls, whatever thread ran which task.
LL_TEST(cpuDeterminism) {
  for (int threads : {3, 2}) {
    auto b = makeCpuBackend(threads);
    CheckLog log;
    log.seed = lltest::ops::freshSeed();
    lltest::ops::checkDeterminism(*b, log);
    QVERIFY2(log.ok(), log.summary());
  }
}

// The CPU attentionMap is bit-identical to the probabilities behind attention()'s statistics (its
// last row is lastRow, bit for bit), and both are bit-identical across thread counts, with every
// mask and score feature on (window crossing the 32-row query blocks, soft-cap, sinks, knockout).
LL_TEST(cpuAttentionMapBitIdentical) {
  const int nQ = 70, nKv = 100, nHead = 4, nHeadKv = 2, hd = 32;
  lltest::ops::Rng rng(lltest::ops::freshSeed());
  const auto q = rng.normals(size_t(nQ) * nHead * hd, 1.5f),
             k = rng.normals(size_t(nKv) * nHeadKv * hd, 1.5f),
             v = rng.normals(size_t(nKv) * nHeadKv * hd), sinks = rng.floats(size_t(nHead), -2, 4);
  std::vector<uint8_t> bq(nKv), bk(nKv);
  for (auto& x : bq) x = rng.uniform(0, 1) < 0.5f;
  for (auto& x : bk) x = rng.uniform(0, 1) < 0.3f;
  struct Run {
    std::vector<float> out, ent, col, last, maps;
  };
  auto run = [&](int threads, int window) {
    auto b = makeCpuBackend(threads);
    // Backend memory (aligned): Eigen's vectorized sums depend on the buffers' alignment.
    const size_t nOut = size_t(nQ) * nHead * hd, nEnt = size_t(nHead) * nQ,
                 nCol = size_t(nHead) * nKv, nMaps = size_t(nHead) * nQ * nKv;
    Buffer out(*b, nOut * 4), ent(*b, nEnt * 4), col(*b, nCol * 4), last(*b, nCol * 4),
        maps(*b, nMaps * 4);
    b->fill(col.f32(), 0.0f, nCol);
    AttnArgs a;
    a.nQ = nQ;
    a.nKv = nKv;
    a.nHead = nHead;
    a.nHeadKv = nHeadKv;
    a.headDim = hd;
    a.scale = 0.17f;
    a.q = q.data();
    a.k = k.data();
    a.v = v.data();
    a.blockQ = bq.data();
    a.blockK = bk.data();
    a.window = window;
    a.softcap = 2.5f;
    a.sinks = sinks.data();
    for (int h = 0; h < nHead; ++h) b->attentionMap(a, h, maps.f32() + size_t(h) * nQ * nKv);
    a.out = out.f32();
    a.entropy = ent.f32();
    a.colSum = col.f32();
    a.lastRow = last.f32();
    b->attention(a);
    auto vec = [](const Buffer& x, size_t n) { return std::vector<float>(x.f32(), x.f32() + n); };
    return Run{vec(out, nOut), vec(ent, nEnt), vec(col, nCol), vec(last, nCol), vec(maps, nMaps)};
  };
  auto same = [](const std::vector<float>& x, const std::vector<float>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * 4) == 0;
  };
  for (int window : {0, 21, 45}) {
    const Run r1 = run(1, window), r3 = run(3, window);
    const std::string w = " (window " + std::to_string(window) + ")";
    for (int h = 0; h < nHead; ++h) {
      const float* mapLast = r1.maps.data() + (size_t(h) * nQ + nQ - 1) * nKv;
      QVERIFY2(std::memcmp(mapLast, r1.last.data() + size_t(h) * nKv, nKv * 4) == 0,
               "map's last row != lastRow, head " + std::to_string(h) + w);
    }
    QVERIFY2(same(r1.out, r3.out) && same(r1.ent, r3.ent) && same(r1.col, r3.col) &&
                 same(r1.last, r3.last) && same(r1.maps, r3.maps),
             "1 and 3 threads differ" + w);
  }
}

// The reference backend checked against itself still exercises its guards, NaN checks and the
// attentionMap self-consistency (map * V = output, statistics from the map).
LL_TEST(referenceSelfConsistency) {
  auto r = makeReferenceBackend();
  runCheck(*r, lltest::ops::checkAttentionMap);
  runCheck(*r, lltest::ops::checkRope);
}

LL_TEST(cudaAllOps) {
  runCuda(lltest::ops::checkAllOps);
}

LL_TEST_MAIN("tst_backend_ops")
