// CPU backend throughput: our matmul on F32 / F16 / Q8_0 / Q4_K / Q6_K weights against the
// machine's Eigen f32 GEMM rate with the same thread count, plus attention. Prints a table; not a
// test. Usage: bench_cpu_ops [threads=2] [seconds-per-case=0.5]
#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/backends.h"

using namespace ll::kern;
using Clock = std::chrono::steady_clock;
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

double gSeconds = 0.5;

// Best time of repeated runs (the machine is shared: the minimum is the least disturbed run).
double bestSeconds(const std::function<void()>& f) {
  f();  // warm up: scratch buffers, page faults, caches
  double best = 1e30, total = 0;
  int reps = 0;
  while (total < gSeconds || reps < 3) {
    auto t0 = Clock::now();
    f();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::min(best, s);
    total += s;
    ++reps;
  }
  return best;
}

// f32 GEMM y = x * w^T with Eigen, output columns split over `threads` std::threads: the rate
// the machine reaches on plain f32 GEMM, our target's yardstick.
double eigenGemmGflops(int threads, int n, int rows, int cols) {
  RowMat x = RowMat::Random(n, cols), w = RowMat::Random(rows, cols), y(n, rows);
  const double s = bestSeconds([&] {
    std::vector<std::thread> ts;
    const int chunk = (rows + threads - 1) / threads;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        const int r0 = t * chunk, r1 = std::min(rows, r0 + chunk);
        if (r1 > r0)
          y.middleCols(r0, r1 - r0).noalias() = x * w.middleRows(r0, r1 - r0).transpose();
      });
    for (auto& th : ts) th.join();
  });
  return 2.0 * n * rows * cols / s / 1e9;
}

std::vector<uint8_t> weightBytes(QType t, int rows, int cols, std::mt19937& gen) {
  std::normal_distribution<float> nd(0.0f, 0.5f);
  std::vector<uint8_t> out(rowBytes(t, cols) * size_t(rows));
  if (t == QType::F32) {
    for (size_t i = 0; i < out.size() / 4; ++i) {
      const float v = nd(gen);
      std::memcpy(out.data() + 4 * i, &v, 4);
    }
  } else if (t == QType::F16) {
    for (size_t i = 0; i < out.size() / 2; ++i) {
      const uint16_t h = fp32ToFp16(nd(gen));
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  } else {
    for (auto& b : out) b = uint8_t(gen());
    // f16 scale fields: Q8_0 at offset 0 of 34-byte blocks; Q4_K d, dmin at 0 and 2; Q6_K d at 208.
    const auto info = qtypeInfo(t);
    const int dOffset = t == QType::Q6_K ? 208 : 0;
    for (size_t blk = 0; blk < out.size() / info.typeSize; ++blk) {
      const uint16_t h = fp32ToFp16(0.003f);
      std::memcpy(out.data() + blk * info.typeSize + dOffset, &h, 2);
      if (t == QType::Q4_K) std::memcpy(out.data() + blk * info.typeSize + 2, &h, 2);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (argc > 2) gSeconds = std::atof(argv[2]);
  auto cpu = makeCpuBackend(threads);
  std::printf("bench_cpu_ops: %s\n", cpu->deviceDescription().c_str());
  std::printf("hardware threads %u, using %d\n\n", std::thread::hardware_concurrency(), threads);

  std::mt19937 gen(42);
  struct Shape {
    int rows, cols;
  };
  const Shape shapes[] = {{2048, 2048}, {5632, 2048}};
  const QType types[] = {QType::F32, QType::F16, QType::Q8_0, QType::Q4_K, QType::Q6_K};

  std::printf("%-6s %-11s %5s %10s %10s %10s %9s\n", "weight", "rows x cols", "n", "ms", "GFLOP/s",
              "weight GB/s", "% eigen");
  for (const Shape& s : shapes) {
    const double eigen512 = eigenGemmGflops(threads, 512, s.rows, s.cols);
    std::printf("%-6s %5dx%-5d %5d %10s %10.1f %10s %9s\n", "eigen", s.rows, s.cols, 512, "",
                eigen512, "", "100");
    for (QType t : types) {
      auto bytes = weightBytes(t, s.rows, s.cols, gen);
      WeightDesc d{"bench.weight", t, s.rows, s.cols, bytes.data(), bytes.size()};
      auto w = cpu->loadWeight(d);
      for (int n : {512, 1}) {
        std::vector<float> x(size_t(n) * s.cols), y(size_t(n) * s.rows);
        for (auto& v : x) v = std::uniform_real_distribution<float>(-1, 1)(gen);
        const double sec = bestSeconds([&] { cpu->matmul(*w, x.data(), y.data(), n); });
        const double gflops = 2.0 * n * s.rows * s.cols / sec / 1e9;
        char pct[16] = "";
        if (n == 512) std::snprintf(pct, sizeof pct, "%.0f", 100.0 * gflops / eigen512);
        std::printf("%-6s %5dx%-5d %5d %10.3f %10.1f %10.2f %9s\n",
                    std::string(qtypeName(t)).c_str(), s.rows, s.cols, n, sec * 1e3, gflops,
                    bytes.size() / sec / 1e9, pct);
      }
    }
  }

  // Attention with every statistic, prompt and generation shapes (llama-7B-like heads).
  std::printf("\n%-34s %10s\n", "attention (stats on)", "ms");
  struct A {
    int nQ, nKv, nHead, nHeadKv, hd, window;
  };
  // The first: bench_engine's TinyLlama-1.1B shape. The last two: a sliding-window layer (Gemma
  // 2/3, gpt-oss local layers), keys before the window are skipped.
  for (A a :
       {A{512, 512, 32, 4, 64, 0}, A{512, 512, 32, 8, 128, 0}, A{1, 2048, 32, 8, 128, 0},
        A{128, 2048, 32, 8, 128, 0}, A{512, 2048, 32, 8, 128, 0}, A{512, 2048, 32, 8, 128, 256}}) {
    std::vector<float> q(size_t(a.nQ) * a.nHead * a.hd), k(size_t(a.nKv) * a.nHeadKv * a.hd),
        v(k.size()), out(q.size()), ent(size_t(a.nHead) * a.nQ), col(size_t(a.nHead) * a.nKv),
        last(col.size());
    for (auto* buf : {&q, &k, &v})
      for (auto& e : *buf) e = std::uniform_real_distribution<float>(-1, 1)(gen);
    AttnArgs args;
    args.nQ = a.nQ;
    args.nKv = a.nKv;
    args.nHead = a.nHead;
    args.nHeadKv = a.nHeadKv;
    args.headDim = a.hd;
    args.scale = 1.0f / std::sqrt(float(a.hd));
    args.q = q.data();
    args.k = k.data();
    args.v = v.data();
    args.out = out.data();
    args.entropy = ent.data();
    args.colSum = col.data();
    args.lastRow = last.data();
    args.window = a.window;
    const double sec = bestSeconds([&] { cpu->attention(args); });
    char label[64];
    std::snprintf(label, sizeof label, "nQ %d nKv %d heads %d/%d d %d%s", a.nQ, a.nKv, a.nHead,
                  a.nHeadKv, a.hd, a.window ? (" w " + std::to_string(a.window)).c_str() : "");
    std::printf("%-34s %10.3f\n", label, sec * 1e3);
  }
  return 0;
}
