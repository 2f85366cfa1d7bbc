// CUDA backend op parity with the reference backend (label cuda). Every op family through the
// shared checks of tests/support/backend_checks (fresh random inputs, poisoned outputs, guard
// regions, NMSE bounds) in precise mode; fast (bf16) matmul with a bound that bf16 operands
// meet; bit-exact dequantization of every weight type; attention at shapes that span several
// 64 x 64 tiles (T not a multiple of the tile, GQA, nQ < nKv, knockout, head dims up to 256);
// the mma.sync flash kernel (LAYERLENS_CUDA_ATTN=mma) likewise; out-of-memory as an exception.
// Skips with a message when no GPU is usable.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backend_checks.h"
#include "backend_checks_util.h"
#include "kernels/backends.h"
#include "kernels/quant.h"
#include "lltest.h"

using namespace ll::kern;
using namespace lltest::ops;

namespace {

// attn: LAYERLENS_CUDA_ATTN (wmma, or mma for the mma.sync flash kernel in fast mode).
std::unique_ptr<Backend> cudaBackend(const char* math, const char* attn = "wmma") {
  setenv("LAYERLENS_CUDA_MATH", math, 1);
  setenv("LAYERLENS_CUDA_ATTN", attn, 1);
  std::string why;
  auto b = makeCudaBackend(&why);
  unsetenv("LAYERLENS_CUDA_MATH");
  unsetenv("LAYERLENS_CUDA_ATTN");
  if (!b) QSKIP("no CUDA backend: " + why);
  return b;
}

using CheckFn = void (*)(Backend&, Backend&, CheckLog&, const Tolerances&);

void runPrecise(CheckFn fn, const Tolerances& tol = {}) {
  auto b = cudaBackend("precise");
  auto ref = makeReferenceBackend();
  CheckLog log;
  log.seed = freshSeed();
  fn(*b, *ref, log, tol);
  std::printf("INFO   : %s: %d checks, seed %llu\n", b->deviceDescription().c_str(), log.checks,
              static_cast<unsigned long long>(log.seed));
  QVERIFY2(log.checks > 0, "no checks ran");
  QVERIFY2(log.ok(), log.summary());
}

// Random weight bytes with sane f16 scale fields (random bits could be Inf/NaN scales).
std::vector<uint8_t> weightBytes(Rng& rng, QType t, int64_t rows, int64_t cols) {
  const QTypeInfo info = qtypeInfo(t);
  const size_t nbytes = rowBytes(t, cols) * size_t(rows);
  std::vector<uint8_t> b = rng.bytes(nbytes);
  auto putHalf = [&](size_t at, float v) {
    const uint16_t h = fp32ToFp16(v);
    std::memcpy(b.data() + at, &h, 2);
  };
  if (t == QType::F32) {
    for (size_t i = 0; i < nbytes / 4; ++i) {
      const float v = rng.uniform(-2, 2);
      std::memcpy(b.data() + 4 * i, &v, 4);
    }
    return b;
  }
  if (t == QType::F16 || t == QType::BF16) {
    for (size_t i = 0; i < nbytes / 2; ++i) {
      const float v = rng.uniform(-2, 2);
      uint16_t h;
      if (t == QType::F16) {
        h = fp32ToFp16(v);
      } else {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        h = uint16_t(u >> 16);
      }
      std::memcpy(b.data() + 2 * i, &h, 2);
    }
    return b;
  }
  std::vector<int> halves;
  switch (t) {
    case QType::Q4_0:
    case QType::Q5_0:
    case QType::Q8_0:
    case QType::IQ4_NL:
    case QType::IQ4_XS:
      halves = {0};
      break;
    case QType::Q4_1:
    case QType::Q5_1:
    case QType::Q4_K:
    case QType::Q5_K:
      halves = {0, 2};
      break;
    case QType::Q2_K:
      halves = {80, 82};
      break;
    case QType::Q3_K:
      halves = {108};
      break;
    case QType::Q6_K:
      halves = {208};
      break;
    default:
      // MXFP4 keeps random E8M0 bytes: every one is a finite scale (0 and 1 subnormal, the
      // largest overflow to Inf on both sides alike), so they cover those edges.
      break;
  }
  for (size_t blk = 0; blk < nbytes / size_t(info.typeSize); ++blk)
    for (int o : halves) putHalf(blk * info.typeSize + o, rng.uniform(-0.05f, 0.05f));
  return b;
}

const QType kTypes[] = {QType::F32,  QType::F16,    QType::BF16,   QType::Q4_0,
                        QType::Q4_1, QType::Q5_0,   QType::Q5_1,   QType::Q8_0,
                        QType::Q2_K, QType::Q3_K,   QType::Q4_K,   QType::Q5_K,
                        QType::Q6_K, QType::IQ4_NL, QType::IQ4_XS, QType::MXFP4};

}  // namespace

LL_TEST(memory) {
  runPrecise(checkMemory);
}
LL_TEST(elementwise) {
  runPrecise(checkElementwise);
}
LL_TEST(norms) {
  runPrecise(checkNorms);
}
LL_TEST(gatherScatter) {
  runPrecise(checkRows);
}
LL_TEST(rope) {
  runPrecise(checkRope);
}
LL_TEST(weights) {
  runPrecise(checkWeights);
}
LL_TEST(matmulPrecise) {
  runPrecise(checkMatmul);
}
LL_TEST(attention) {
  runPrecise(checkAttention);
}
LL_TEST(attentionMap) {
  runPrecise(checkAttentionMap);
}

// bf16 operands, f32 accumulation: relative rounding 2^-9 per operand gives NMSE near 1e-5.
LL_TEST(matmulFast) {
  auto b = cudaBackend("fast");
  auto ref = makeReferenceBackend();
  CheckLog log;
  log.seed = freshSeed();
  Tolerances tol;
  tol.matmul = 1e-4;
  checkMatmul(*b, *ref, log, tol);
  std::printf("INFO   : fast matmul: %d checks, seed %llu\n", log.checks,
              static_cast<unsigned long long>(log.seed));
  QVERIFY2(log.checks > 0, "no checks ran");
  QVERIFY2(log.ok(), log.summary());
}

// Device dequantization (getRows) is bit-identical to kernels/quant.cpp for every type.
LL_TEST(dequantBitExact) {
  auto b = cudaBackend("precise");
  Rng rng(freshSeed());
  for (QType t : kTypes) {
    const int64_t bs = qtypeInfo(t).blockSize;
    const int64_t rows = 37, cols = bs == 1 ? 1000 : 4 * bs;
    const auto bytes = weightBytes(rng, t, rows, cols);
    WeightDesc d;
    d.name = "test";
    d.type = t;
    d.rows = rows;
    d.cols = cols;
    d.data = bytes.data();
    d.nbytes = bytes.size();
    auto w = b->loadWeight(d);
    std::vector<int32_t> ids(rows);
    for (int i = 0; i < rows; ++i) ids[i] = int32_t(rows - 1 - i);
    Buffer out(*b, size_t(rows) * cols * 4);
    b->getRows(*w, ids.data(), int(rows), out.f32());
    std::vector<float> got(size_t(rows * cols)), want(size_t(rows * cols));
    b->download(got.data(), out.get(), got.size() * 4);
    const size_t rb = rowBytes(t, cols);
    for (int i = 0; i < rows; ++i)
      dequantizeRow(t, bytes.data() + size_t(ids[i]) * rb, want.data() + i * cols, cols);
    size_t diff = 0, first = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (std::memcmp(&got[i], &want[i], 4) != 0 && diff++ == 0) first = i;
    QVERIFY2(diff == 0, std::string(qtypeName(t)) + ": " + std::to_string(diff) +
                            " elements differ, first at " + std::to_string(first) + ": " +
                            std::to_string(got[first]) + " vs " + std::to_string(want[first]));
  }
}

// Shapes spanning several query and key tiles, partial last tiles, GQA, nQ < nKv, knockout.
// Fast mode runs attention on tensor cores with fp16 Q/K/V/P: relative rounding 2^-11.
LL_TEST(attentionFast) {
  Tolerances tol;
  tol.attention = 1e-5;
  auto b = cudaBackend("fast");
  auto ref = makeReferenceBackend();
  CheckLog log;
  log.seed = freshSeed();
  checkAttention(*b, *ref, log, tol);
  checkAttentionMap(*b, *ref, log, tol);
  std::printf("INFO   : fast attention: %d checks, seed %llu\n", log.checks,
              static_cast<unsigned long long>(log.seed));
  QVERIFY2(log.checks > 0, "no checks ran");
  QVERIFY2(log.ok(), log.summary());
}

struct TileCase {
  int nQ, nKv, nHead, nHeadKv, hd;
  bool knock;
  bool keep = false;     // per-kv-head eviction mask (headKeep) on the later query rows
  int window = 0;        // sliding window
  float softcap = 0.0f;  // logit soft-cap
  bool sinks = false;    // random per-head sink logits
};

const std::vector<TileCase> kTileCases = {
    {130, 300, 4, 2, 64, false},
    {1, 1000, 4, 1, 128, false},
    {200, 200, 2, 2, 256, true},
    {65, 65, 3, 1, 80, true},
    {129, 129, 2, 1, 32, false},
    {64, 192, 2, 2, 128, true},
    {70, 150, 4, 2, 64, false, true},
    // Windows that skip whole key tiles, cross tile edges and equal a tile; soft-cap; sinks.
    {200, 300, 4, 2, 64, false, false, 64},
    {130, 300, 4, 2, 128, true, true, 100, 0.0f, true},
    {1, 1000, 4, 1, 128, false, false, 77, 30.0f, true},
    {129, 129, 2, 1, 32, false, false, 0, 1.5f},
    {65, 65, 3, 1, 80, true, false, 0, 0.0f, true},
    {200, 200, 2, 2, 256, false, true, 13, 50.0f, true}};

static void attentionLargeTiles(const char* math, double bound,
                                const std::vector<TileCase>& cases = kTileCases,
                                const char* attn = "wmma") {
  auto b = cudaBackend(math, attn);
  auto ref = makeReferenceBackend();
  const uint64_t seed = freshSeed();
  Rng rng(seed);
  CheckLog log;
  log.seed = seed;
  for (const TileCase& c : cases) {
    const std::string tag = std::string("attention ") + attn + " " +
                            dims({{"nQ", c.nQ},
                                  {"nKv", c.nKv},
                                  {"nHead", c.nHead},
                                  {"nHeadKv", c.nHeadKv},
                                  {"headDim", c.hd}}) +
                            (c.knock ? " knockout" : "") + (c.keep ? " headKeep" : "") +
                            (c.window ? " window=" + std::to_string(c.window) : "") +
                            (c.softcap > 0 ? " softcap=" + std::to_string(c.softcap) : "") +
                            (c.sinks ? " sinks" : "");
    const auto q = rng.normals(size_t(c.nQ) * c.nHead * c.hd, 1.5f);
    const auto k = rng.normals(size_t(c.nKv) * c.nHeadKv * c.hd, 1.5f);
    const auto v = rng.normals(size_t(c.nKv) * c.nHeadKv * c.hd);
    const auto colInit = rng.floats(size_t(c.nHead) * c.nKv, 0, 2);
    std::vector<uint8_t> bq(size_t(c.nKv)), bk(size_t(c.nKv));
    for (auto& x : bq) x = rng.uniform(0, 1) < 0.5f;
    for (auto& x : bk) x = rng.uniform(0, 1) < 0.4f;
    const int keepLen = std::max(1, c.nKv - 3), keepFrom = c.nKv - c.nQ + c.nQ / 3;
    std::vector<uint8_t> keep(size_t(c.nHeadKv) * keepLen);
    for (auto& x : keep) x = rng.uniform(0, 1) < 0.6f;
    const auto sinks = rng.floats(size_t(c.nHead), -3.0f, 6.0f);
    std::vector<float> res[2][5];
    Backend* bes[2] = {b.get(), ref.get()};
    for (int w = 0; w < 2; ++w) {
      Backend& be = *bes[w];
      GuardedBuf gq(be, q), gk(be, k), gv(be, v), out(be, size_t(c.nQ) * c.nHead * c.hd),
          ent(be, size_t(c.nHead) * c.nQ), col(be, colInit), last(be, size_t(c.nHead) * c.nKv),
          map(be, size_t(c.nQ) * c.nKv), gbq(be, bq), gbk(be, bk), gkeep(be, keep),
          gsink(be, sinks);
      AttnArgs a;
      a.nQ = c.nQ;
      a.nKv = c.nKv;
      a.nHead = c.nHead;
      a.nHeadKv = c.nHeadKv;
      a.headDim = c.hd;
      a.scale = float(1.0 / std::sqrt(double(c.hd)));
      a.q = gq.f32();
      a.k = gk.f32();
      a.v = gv.f32();
      if (c.knock) {
        a.blockQ = gbq.u8();
        a.blockK = gbk.u8();
      }
      if (c.keep) {
        a.headKeep = gkeep.u8();
        a.headKeepLen = keepLen;
        a.headKeepFrom = keepFrom;
      }
      a.window = c.window;
      a.softcap = c.softcap;
      if (c.sinks) a.sinks = gsink.f32();
      be.attentionMap(a, c.nHead - 1, map.f32());
      a.out = out.f32();
      a.entropy = ent.f32();
      a.colSum = col.f32();
      a.lastRow = last.f32();
      be.attention(a);
      be.sync();
      for (auto* g : {&gq, &gk, &gv, &out, &ent, &col, &last, &map, &gbq, &gbk, &gkeep, &gsink})
        g->checkGuards(log, tag + " [" + be.name() + "]");
      res[w][0] = out.download();
      res[w][1] = ent.download();
      res[w][2] = col.download();
      res[w][3] = last.download();
      res[w][4] = map.download();
    }
    const char* names[5] = {"output", "entropy", "colSum", "lastRow", "map"};
    for (int i = 0; i < 5; ++i)
      compare(log, tag + " " + names[i] + " " + math, res[0][i], res[1][i], bound);
    // Each map row is a distribution (with sinks: the keys' part of one, sum <= 1).
    double worst = 0;
    for (int i = 0; i < c.nQ; ++i) {
      double s = 0;
      for (int j = 0; j < c.nKv; ++j) s += res[0][4][size_t(i) * c.nKv + j];
      worst = std::max(worst, c.sinks ? s - 1.0 : std::fabs(s - 1.0));
    }
    log.expect(worst < 1e-4, tag + ": map rows sum to 1 within " + std::to_string(worst));
  }
  std::printf("INFO   : %d attention checks (%s), seed %llu\n", log.checks, math,
              static_cast<unsigned long long>(seed));
  QVERIFY2(log.ok(), log.summary());
}

LL_TEST(attentionLargeTilesPrecise) {
  attentionLargeTiles("precise", 1e-8);
}
LL_TEST(attentionLargeTilesFast) {
  attentionLargeTiles("fast", 1e-5);
}

// The mma.sync flash kernel (fast mode, LAYERLENS_CUDA_ATTN=mma) takes head dims 64 and 128 at
// nQ >= 32: the shared checks (their smaller shapes fall back to the WMMA kernel) and shapes that
// span many tiles on both the query and the key side, partial tiles, GQA, nQ < nKv, knockout and
// per-head eviction masks, with every statistic.
LL_TEST(attentionMma) {
  Tolerances tol;
  tol.attention = 1e-5;
  auto b = cudaBackend("fast", "mma");
  QVERIFY2(b->deviceDescription().find("mma attention") != std::string::npos,
           b->deviceDescription());
  auto ref = makeReferenceBackend();
  CheckLog log;
  log.seed = freshSeed();
  checkAttention(*b, *ref, log, tol);
  checkAttentionMap(*b, *ref, log, tol);
  std::printf("INFO   : mma attention (shared checks): %d checks, seed %llu\n", log.checks,
              static_cast<unsigned long long>(log.seed));
  QVERIFY2(log.checks > 0, "no checks ran");
  QVERIFY2(log.ok(), log.summary());
  attentionLargeTiles("fast", 1e-5,
                      {{130, 300, 4, 2, 64, false},
                       {64, 64, 2, 1, 128, false},
                       {200, 200, 2, 2, 64, true},
                       {65, 65, 3, 1, 128, true, true},
                       {129, 129, 2, 1, 64, false, true},
                       {33, 100, 8, 2, 64, true, true},
                       {40, 40, 8, 2, 128, false},
                       {1000, 1000, 4, 1, 64, false},
                       {300, 700, 4, 2, 128, false, true},
                       {32, 2000, 4, 4, 64, false},
                       // window, soft-cap and sinks on the mma path (nQ >= 32)
                       {300, 700, 4, 2, 128, false, false, 128},
                       {200, 500, 4, 2, 64, true, true, 100, 0.0f, true},
                       {129, 129, 2, 1, 64, false, false, 0, 30.0f},
                       {64, 64, 2, 1, 128, false, false, 0, 0.0f, true},
                       {1000, 1000, 4, 1, 64, false, false, 200, 50.0f, true},
                       {33, 100, 8, 2, 64, true, true, 1, 2.0f, true}},
                      "mma");
}

// Downloads above 1 MiB go through pinned staging chunks: odd sizes, exact bytes back.
LL_TEST(largeTransfers) {
  auto b = cudaBackend("precise");
  Rng rng(freshSeed());
  for (size_t bytes : {size_t(1) << 20, (size_t(8) << 20) + 13, (size_t(37) << 20) + 4097}) {
    const std::vector<uint8_t> host = rng.bytes(bytes);
    Buffer d(*b, bytes + 64);
    b->upload(d.get(), host.data(), bytes);
    std::vector<uint8_t> back(bytes + 8, 0xAB);
    b->download(back.data(), d.get(), bytes);
    QVERIFY2(std::memcmp(back.data(), host.data(), bytes) == 0,
             "download of " + std::to_string(bytes) + " bytes differs");
    for (int i = 0; i < 8; ++i) QCOMPARE(int(back[bytes + i]), 0xAB);
  }
}

// Downloads from several host threads at once (a UI reading a trace while the engine runs ops):
// staged (> 1 MiB) and direct sizes, each thread its own buffer, while this thread keeps
// enqueueing fills on another buffer; every byte arrives.
LL_TEST(concurrentDownloads) {
  auto b = cudaBackend("precise");
  constexpr int kThreads = 4;
  const size_t counts[kThreads] = {(size_t(9) << 20) / 4 + 3, 1000, (size_t(3) << 20) / 4, 77};
  std::vector<std::unique_ptr<Buffer>> bufs;
  for (int t = 0; t < kThreads; ++t) {
    bufs.push_back(std::make_unique<Buffer>(*b, counts[t] * 4));
    b->fill(bufs[t]->f32(), float(t + 1) * 0.5f, counts[t]);
  }
  Buffer busy(*b, size_t(16) << 20);
  b->sync();
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::vector<float> h(counts[t]);
      for (int rep = 0; rep < 6; ++rep) {
        std::fill(h.begin(), h.end(), -1.0f);
        try {
          b->download(h.data(), bufs[t]->get(), counts[t] * 4);
        } catch (const std::exception&) {
          ++bad;
          return;
        }
        for (float v : h)
          if (v != float(t + 1) * 0.5f) {
            ++bad;
            return;
          }
      }
    });
  for (int i = 0; i < 200; ++i) b->fill(busy.f32(), float(i), (size_t(16) << 20) / 4);
  for (auto& th : threads) th.join();
  b->sync();
  QCOMPARE(bad.load(), 0);
}

// A failed cudaMalloc is an exception naming the size; the backend keeps working afterwards.
LL_TEST(outOfMemoryThrows) {
  auto b = cudaBackend("precise");
  bool threw = false;
  try {
    b->alloc(size_t(1) << 50);
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()).find("out of device memory") != std::string::npos;
    std::printf("INFO   : %s\n", e.what());
  }
  QVERIFY(threw);
  QVERIFY(b->freeMemory() > 0);
  Buffer x(*b, 16 * 4);
  b->fill(x.f32(), 3.5f, 16);
  std::vector<float> h(16);
  b->download(h.data(), x.get(), 64);
  for (float v : h) QCOMPARE(v, 3.5f);
}

// Shape errors are exceptions before anything is launched.
LL_TEST(badArgumentsThrow) {
  auto b = cudaBackend("precise");
  AttnArgs a;
  a.nQ = 5;
  a.nKv = 3;  // nQ > nKv
  a.nHead = 2;
  a.nHeadKv = 2;
  a.headDim = 64;
  Buffer q(*b, 4096), o(*b, 4096);
  a.q = a.k = a.v = q.f32();
  a.out = o.f32();
  bool threw = false;
  try {
    b->attention(a);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY(threw);
  a.nQ = 1;
  a.headDim = 512;  // above the kernels' tiles
  threw = false;
  try {
    b->attention(a);
  } catch (const std::exception&) {
    threw = true;
  }
  QVERIFY(threw);
}

LL_TEST_MAIN("tst_cuda_ops")
