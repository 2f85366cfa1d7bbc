// Op-level timings of the CUDA backend at Llama-3.2-1B shapes (32 heads, 8 kv heads, head dim
// 64, dim 2048, FFN 8192): attention with and without the in-pass statistics, attentionMap,
// and matmul in precise (f32) and fast (bf16) modes; attention also with the mma.sync flash kernel
// (fast mode, LAYERLENS_CUDA_ATTN=mma; "fast" below is the WMMA kernel). One line per figure.
// Usage: bench_cuda_ops [T ...]   (default 512 4096 16384)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/backends.h"

using namespace ll::kern;

namespace {

double medianMs(Backend& b, int reps, const std::function<void()>& fn) {
  fn();  // warm-up: module load, scratch growth
  b.sync();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    b.sync();
    t.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void upload(Backend& b, Buffer& buf, size_t n, std::mt19937& g, float sigma) {
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> h(n);
  for (auto& x : h) x = d(g);
  b.upload(buf.get(), h.data(), n * 4);
}

std::unique_ptr<Backend> make(const char* math, const char* attn = "wmma") {
  setenv("LAYERLENS_CUDA_MATH", math, 1);
  setenv("LAYERLENS_CUDA_ATTN", attn, 1);
  std::string why;
  auto b = makeCudaBackend(&why);
  if (!b) {
    std::printf("no CUDA backend: %s\n", why.c_str());
    std::exit(0);
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> Ts;
  for (int i = 1; i < argc; ++i) Ts.push_back(std::atoi(argv[i]));
  if (Ts.empty()) Ts = {512, 4096, 16384};
  const int nHead = 32, nHeadKv = 8, hd = 64, dim = 2048, ffn = 8192;
  std::mt19937 g(1234);
  for (const char* amath : {"precise", "fast", "mma"}) {
    const bool mma = std::strcmp(amath, "mma") == 0;
    auto b = make(mma ? "fast" : amath, mma ? "mma" : "wmma");
    std::printf("device: %s\n", b->deviceDescription().c_str());
    for (int T : Ts) {
      Buffer q(*b, size_t(T) * nHead * hd * 4), k(*b, size_t(T) * nHeadKv * hd * 4),
          v(*b, size_t(T) * nHeadKv * hd * 4), out(*b, size_t(T) * nHead * hd * 4),
          ent(*b, size_t(nHead) * T * 4), col(*b, size_t(nHead) * T * 4),
          last(*b, size_t(nHead) * T * 4);
      upload(*b, q, size_t(T) * nHead * hd, g, 1.0f);
      upload(*b, k, size_t(T) * nHeadKv * hd, g, 1.0f);
      upload(*b, v, size_t(T) * nHeadKv * hd, g, 1.0f);
      b->fill(col.f32(), 0.0f, size_t(nHead) * T);
      AttnArgs a;
      a.nQ = T;
      a.nKv = T;
      a.nHead = nHead;
      a.nHeadKv = nHeadKv;
      a.headDim = hd;
      a.scale = 0.125f;
      a.q = q.f32();
      a.k = k.f32();
      a.v = v.f32();
      a.out = out.f32();
      const int reps = T >= 16384 ? 3 : 10;
      const double plain = medianMs(*b, reps, [&] { b->attention(a); });
      a.lastRow = last.f32();
      const double withLast = medianMs(*b, reps, [&] { b->attention(a); });
      a.lastRow = nullptr;
      a.entropy = ent.f32();
      const double withEnt = medianMs(*b, reps, [&] { b->attention(a); });
      a.colSum = col.f32();
      a.lastRow = last.f32();
      const double withAll = medianMs(*b, reps, [&] { b->attention(a); });
      const double flops = 4.0 * double(T) * T / 2 * hd * nHead;  // causal QK^T and PV
      std::printf(
          "attention %s T=%d (32 heads, 8 kv, hd 64): plain %.3f ms (%.1f TFLOP/s), +lastRow %.3f "
          "ms, +entropy %.3f ms, +entropy+colSum+lastRow %.3f ms (%.0f%% over plain)\n",
          amath, T, plain, flops / plain / 1e9, withLast, withEnt, withAll,
          100.0 * (withAll - plain) / plain);
      if (T <= 4096) {
        Buffer map(*b, size_t(T) * T * 4);
        const double m = medianMs(*b, reps, [&] { b->attentionMap(a, 5, map.f32()); });
        std::printf("attentionMap %s T=%d one head: %.3f ms\n", amath, T, m);
      }
    }
  }
  for (const char* math : {"precise", "fast"}) {
    auto bm = make(math);
    std::vector<uint16_t> wh(size_t(ffn) * dim);
    std::normal_distribution<float> d(0.0f, 0.02f);
    for (auto& x : wh) {
      const float f = d(g);
      uint32_t u;
      std::memcpy(&u, &f, 4);
      x = uint16_t(u >> 16);
    }
    WeightDesc wd;
    wd.name = "ffn_up";
    wd.type = QType::BF16;
    wd.rows = ffn;
    wd.cols = dim;
    wd.data = wh.data();
    wd.nbytes = wh.size() * 2;
    auto w = bm->loadWeight(wd);
    for (int T : Ts) {
      Buffer x(*bm, size_t(T) * dim * 4), y(*bm, size_t(T) * ffn * 4);
      upload(*bm, x, size_t(T) * dim, g, 1.0f);
      const double ms = medianMs(*bm, 10, [&] { bm->matmul(*w, x.f32(), y.f32(), T); });
      std::printf("matmul %s bf16 [%d x %d] x [%d x %d]^T: %.3f ms (%.1f TFLOP/s)\n", math, T, dim,
                  ffn, dim, ms, 2.0 * T * dim * ffn / ms / 1e9);
    }
    Buffer x1(*bm, size_t(dim) * 4), y1(*bm, size_t(ffn) * 4);
    upload(*bm, x1, dim, g, 1.0f);
    const double mv = medianMs(*bm, 50, [&] { bm->matmul(*w, x1.f32(), y1.f32(), 1); });
    std::printf("matvec %s bf16 [%d x %d]: %.3f ms (%.0f GB/s)\n", math, ffn, dim, mv,
                double(ffn) * dim * 2 / mv / 1e6);
  }
  {
    // Device-to-host copies as the engine's capture does them: into fresh and into reused
    // pageable vectors (a fresh vector pays its page faults inside the copy).
    auto bd = make("precise");
    const size_t bytes = size_t(256) << 20;
    Buffer src(*bd, bytes);
    bd->fill(src.f32(), 1.0f, bytes / 4);
    std::vector<float> reused(bytes / 4);
    const double msReused =
        medianMs(*bd, 5, [&] { bd->download(reused.data(), src.get(), bytes); });
    const double msFresh = medianMs(*bd, 5, [&] {
      std::vector<float> fresh(bytes / 4);
      bd->download(fresh.data(), src.get(), bytes);
    });
    std::printf(
        "download 256 MiB: into a reused vector %.1f ms (%.1f GB/s), into a fresh zeroed vector "
        "%.1f ms "
        "(%.1f GB/s incl. allocation)\n",
        msReused, bytes / msReused / 1e6, msFresh, bytes / msFresh / 1e6);
  }
  return 0;
}
