// Op-level parity of the CPU backend (and CUDA, when built and a GPU is present) with the
// reference backend: every op, random inputs with a fresh seed per run, NMSE bounds, NaN/Inf
// and guard-region checks (tests/support/backend_checks.h documents the bounds).
#include <cstdio>
#include <functional>
#include <memory>

#include "backend_checks.h"
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
