// The CPU backend: host memory, Eigen for the dense work, a thread pool of our own for
// parallelism (one pool per backend), weights kept in their file type; precise or fast math.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kernels/backends.h"
#include "kernels/cpu/cpu_attention.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_matmul.h"
#include "kernels/cpu/cpu_panel_gemm.h"
#include "kernels/cpu/cpu_sgemm.h"
#include "kernels/cpu/cpu_weight.h"
#include "kernels/cpu/fast_matmul.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/weight_check.h"
#include "kernels/reference/reference_ops.h"
#include "kernels/rope_freq.h"

namespace ll::kern {
namespace {

using ArrMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrMap = Eigen::Map<const Eigen::ArrayXf>;

// Elementwise work below this many floats runs on the calling thread (waking workers costs more).
constexpr int64_t kParallelElems = 1 << 15;

const CpuWeight& asCpu(const Weight& w) {
  auto* c = dynamic_cast<const CpuWeight*>(&w);
  if (!c)
    throw std::invalid_argument("cpu backend: weight '" + w.name + "' belongs to another backend");
  return *c;
}

class CpuBackend final : public Backend {
 public:
  CpuBackend(int threads, CpuMath math)
      : m_pool(threads),
        m_math(math),
        m_fast(math == CpuMath::Fast ? &detectedCpuFeatures() : nullptr) {}

  // What computes the f32 products (cpuGemmName) and the math mode in the name: what the window and
  // the CLI show of the backend.
  std::string name() const override {
    if (!m_fast) return "cpu (" + cpuGemmName() + ")";
    const bool bf16 = fastMatmulCovers(QType::F16, *m_fast);
    const bool int8 = fastMatmulCovers(QType::Q8_0, *m_fast);
    if (!bf16 && !int8)
      return "cpu (" + cpuGemmName() +
             "; fast math requested; this CPU lacks AVX512_BF16/VNNI: precise)";
    std::string s = "cpu (" + cpuGemmName() + "; fast math:";
    if (bf16) s += " bf16 dots for F16/BF16";
    if (bf16 && int8) s += ",";
    if (int8) s += " int8 dots for quantized types";
    return s + ")";
  }
  bool hostMemory() const override { return true; }
  std::unique_ptr<Backend> sibling() const override {
    return std::make_unique<CpuBackend>(m_pool.size(), m_math);
  }
  std::string deviceDescription() const override {
    const std::string gemm = panelGemmAvailable() ? cpuGemmName() + " (library " + sgemmLibrary() +
                                                        " with LAYERLENS_CPU_GEMM=library)"
                                                  : sgemmLibrary();
    return "CPU, " + std::to_string(m_pool.size()) + " threads, f32 GEMM " + gemm + ", Eigen " +
           std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
           std::to_string(EIGEN_MINOR_VERSION) + " (" + Eigen::SimdInstructionSetsInUse() + "), " +
           cpuMathName(m_math) + " math, CPU features: " + detectedCpuFeatures().describe();
  }

  void* alloc(size_t bytes) override {
    void* p = ::operator new(bytes ? bytes : 1, std::align_val_t(64), std::nothrow);
    if (!p)
      throw std::runtime_error("cpu backend: out of memory allocating " + std::to_string(bytes) +
                               " bytes");
    return p;
  }
  void free(void* p) override {
    if (p) ::operator delete(p, std::align_val_t(64));
  }
  // Transfers stay on the calling thread: a trace's lazy host copy may download while a pass
  // runs on the pool.
  void upload(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  // Large disjoint copies (a pass's captures, a held trace's kept rows into the next trace) are
  // split over the pool: one core does not reach the memory bandwidth.
  void copy(void* dst, const void* src, size_t bytes) override {
    constexpr size_t kParallelBytes = size_t(2) << 20, kChunk = size_t(512) << 10;
    const auto d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
    const bool disjoint = d + bytes <= s || s + bytes <= d;
    if (bytes < kParallelBytes || m_pool.size() == 1 || !disjoint) {
      if (bytes) std::memmove(dst, src, bytes);
      return;
    }
    m_pool.run(int64_t((bytes + kChunk - 1) / kChunk), [&](int64_t c, int) {
      const size_t off = size_t(c) * kChunk;
      std::memcpy(static_cast<char*>(dst) + off, static_cast<const char*>(src) + off,
                  std::min(kChunk, bytes - off));
    });
  }
  void fill(float* dst, float value, size_t count) override { std::fill(dst, dst + count, value); }
  void sync() override {}
  size_t freeMemory() const override { return size_t(1) << 40; }

  std::unique_ptr<Weight> loadWeight(const WeightDesc& d) override {
    auto w = std::make_unique<CpuWeight>();
    w->rowBytes = checkWeightDesc(d);
    w->name = d.name;
    w->type = d.type;
    w->rows = d.rows;
    w->cols = d.cols;
    w->data = static_cast<const uint8_t*>(d.data);
    if (d.rows == 1) {
      w->vec.resize(size_t(d.cols));
      dequantizeRows(*w, 0, 1, w->vec.data());
    }
    return w;
  }
  const float* vectorData(const Weight& w) override {
    const CpuWeight& c = asCpu(w);
    if (c.rows != 1)
      throw std::invalid_argument("vectorData: weight '" + w.name + "' is not a vector");
    return c.vec.data();
  }

  void matmul(const Weight& w, const float* x, float* y, int n) override {
    cpuMatmul(m_pool, asCpu(w), x, y, n, m_fast);
  }

  void getRows(const Weight& w, const int32_t* ids, int n, float* out) override {
    const CpuWeight& c = asCpu(w);
    for (int i = 0; i < n; ++i)
      if (ids[i] < 0 || ids[i] >= c.rows)
        throw std::out_of_range("getRows: row " + std::to_string(ids[i]) + " outside '" + c.name +
                                "'");
    rowsParallel(n, c.cols,
                 [&](int64_t i) { dequantizeRows(c, ids[i], 1, out + size_t(i) * c.cols); });
  }

  void rmsNorm(const float* x, const float* w, float* y, int n, int dim, float eps) override {
    rowsParallel(n, dim, [&](int64_t r) {
      ConstArrMap xr(x + size_t(r) * dim, dim);
      ArrMap yr(y + size_t(r) * dim, dim);
      const double ss = xr.cast<double>().square().sum();
      const float inv = float(1.0 / std::sqrt(ss / dim + eps));
      if (w)
        yr = xr * inv * ConstArrMap(w, dim);
      else
        yr = xr * inv;
    });
  }
  void layerNorm(const float* x, const float* w, const float* b, float* y, int n, int dim,
                 float eps) override {
    rowsParallel(n, dim, [&](int64_t r) {
      ConstArrMap xr(x + size_t(r) * dim, dim);
      ArrMap yr(y + size_t(r) * dim, dim);
      const double mean = xr.cast<double>().sum() / dim;
      const double var = (xr.cast<double>() - mean).square().sum() / dim;
      const float inv = float(1.0 / std::sqrt(var + eps));
      yr = (xr - float(mean)) * inv;
      if (w) yr *= ConstArrMap(w, dim);
      if (b) yr += ConstArrMap(b, dim);
    });
  }

  void rope(float* x, const int32_t* positions, int n, int nHead, int headDim,
            const RopeParams& p) override {
    if (p.nRot <= 0 || p.nRot > headDim || p.nRot % 2 != 0)
      throw std::invalid_argument("rope: nRot must be even and in (0, headDim]");
    const int half = p.nRot / 2;
    std::vector<double> invFreq(half);
    for (int i = 0; i < half; ++i) invFreq[i] = ropeInvFreq(i, p);
    const double mag = ropeMagnitude(p);
    rowsParallel(n, int64_t(nHead) * headDim, [&](int64_t r) {
      // Angles in double: positions * freq reach 1e5 rad, where f32 would lose ~1e-2.
      thread_local std::vector<float> cs, sn;
      cs.resize(half);
      sn.resize(half);
      for (int i = 0; i < half; ++i) {
        const double th = double(positions[r]) * invFreq[i];
        cs[i] = float(std::cos(th) * mag);
        sn[i] = float(std::sin(th) * mag);
      }
      for (int h = 0; h < nHead; ++h) {
        float* v = x + (size_t(r) * nHead + h) * headDim;
        if (p.neox) {
          for (int i = 0; i < half; ++i) {
            const float x0 = v[i], x1 = v[i + half];
            v[i] = x0 * cs[i] - x1 * sn[i];
            v[i + half] = x0 * sn[i] + x1 * cs[i];
          }
        } else {
          for (int i = 0; i < half; ++i) {
            const float x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * cs[i] - x1 * sn[i];
            v[2 * i + 1] = x0 * sn[i] + x1 * cs[i];
          }
        }
      }
    });
  }

  void attention(const AttnArgs& a) override { cpuAttention(m_pool, a); }
  void attentionMap(const AttnArgs& a, int head, float* out) override {
    cpuAttentionMap(m_pool, a, head, out);
  }

  void addBias(float* x, const float* bias, int n, int dim) override {
    rowsParallel(n, dim,
                 [&](int64_t r) { ArrMap(x + size_t(r) * dim, dim) += ConstArrMap(bias, dim); });
  }
  void add(const float* a, const float* b, float* y, size_t count) override {
    elems(count, [&](int64_t b0, int64_t len) {
      ArrMap(y + b0, len) = ConstArrMap(a + b0, len) + ConstArrMap(b + b0, len);
    });
  }
  void addRowVector(float* x, const float* v, float alpha, int rowBegin, int n, int dim) override {
    const int r0 = std::max(rowBegin, 0);
    if (r0 >= n) return;
    rowsParallel(n - r0, dim, [&](int64_t r) {
      ArrMap(x + size_t(r0 + r) * dim, dim) += alpha * ConstArrMap(v, dim);
    });
  }
  void swiglu(const float* gate, const float* up, float* y, size_t count) override {
    elems(count, [&](int64_t b0, int64_t len) {
      ConstArrMap g(gate + b0, len);
      ArrMap(y + b0, len) = g / (1.0f + (-g).exp()) * ConstArrMap(up + b0, len);
    });
  }
  void matmulSwiglu(const Weight& up, const float* x, float* gate, int n) override {
    cpuMatmulSwiglu(m_pool, asCpu(up), x, gate, n, m_fast);
  }
  bool fusedSwiglu() const override { return true; }
  void gelu(float* x, size_t count) override {
    // 0.5x(1 + tanh(z)) written as x * sigmoid(2z): same function, no cancellation for z << 0.
    const float k2 = 2.0f * 0.7978845608028654f;  // 2 sqrt(2/pi)
    elems(count, [&](int64_t b0, int64_t len) {
      ArrMap v(x + b0, len);
      v = v / (1.0f + (-k2 * (v + 0.044715f * v.cube())).exp());
    });
  }
  void glu(Glu kind, const float* gate, const float* up, float* y, size_t count) override {
    const float k2 = 2.0f * 0.7978845608028654f;  // 2 sqrt(2/pi)
    const float lim = kOaiSwigluLimit, alpha = kOaiSwigluAlpha;
    elems(count, [&](int64_t b0, int64_t len) {
      ConstArrMap g(gate + b0, len), u(up + b0, len);
      ArrMap out(y + b0, len);
      switch (kind) {
        case Glu::Silu:
          out = g / (1.0f + (-g).exp()) * u;
          break;
        case Glu::GeluTanh:
          out = g / (1.0f + (-k2 * (g + 0.044715f * g.cube())).exp()) * u;
          break;
        case Glu::SiluOai: {
          const Eigen::ArrayXf gc = g.min(lim);
          out = gc / (1.0f + (-alpha * gc).exp()) * (u.max(-lim).min(lim) + 1.0f);
          break;
        }
      }
    });
  }
  void softcap(float* x, float cap, size_t count) override {
    elems(count, [&](int64_t b0, int64_t len) {
      ArrMap v(x + b0, len);
      v = cap * (v / cap).tanh();
    });
  }
  void scaleRows(float* x, const float* s, int n, int dim) override {
    rowsParallel(n, dim, [&](int64_t r) { ArrMap(x + size_t(r) * dim, dim) *= s[r]; });
  }
  void sigmoid(float* x, size_t count) override {
    elems(count, [&](int64_t b0, int64_t len) {
      ArrMap v(x + b0, len);
      v = 1.0f / (1.0f + (-v).exp());
    });
  }
  void gatherRows(const float* src, const int32_t* idx, int n, int dim, float* dst) override {
    rowsParallel(n, dim, [&](int64_t i) {
      std::memcpy(dst + size_t(i) * dim, src + size_t(idx[i]) * dim, size_t(dim) * sizeof(float));
    });
  }
  void scatterAddRows(const float* src, const int32_t* idx, const float* w, int n, int dim,
                      float* dst) override {
    // Sequential over i: rows with equal idx within one call would race if split across threads.
    for (int i = 0; i < n; ++i) {
      ArrMap d(dst + size_t(idx[i]) * dim, dim);
      ConstArrMap s(src + size_t(i) * dim, dim);
      if (w)
        d += w[i] * s;
      else
        d += s;
    }
  }

 private:
  template <class F>
  void rowsParallel(int64_t n, int64_t rowElems, F&& f) {
    if (n <= 0) return;
    if (n * rowElems < kParallelElems || n == 1) {
      for (int64_t r = 0; r < n; ++r) f(r);
      return;
    }
    const int64_t grain = std::max<int64_t>(1, kParallelElems / std::max<int64_t>(rowElems, 1) / 4);
    m_pool.parallelFor(n, grain, [&](int64_t b, int64_t e, int) {
      for (int64_t r = b; r < e; ++r) f(r);
    });
  }
  template <class F>
  void elems(size_t count, F&& f) {
    if (count == 0) return;
    if (int64_t(count) < kParallelElems) {
      f(0, int64_t(count));
      return;
    }
    // Fixed chunks, not a split by thread count: vectorised bodies and scalar tails (exp, tanh)
    // round differently, so the boundaries must not move with the pool size.
    constexpr int64_t kChunk = kParallelElems / 2;
    const int64_t n = int64_t(count);
    m_pool.run((n + kChunk - 1) / kChunk, [&](int64_t c, int) {
      const int64_t b = c * kChunk;
      f(b, std::min(kChunk, n - b));
    });
  }

  ThreadPool m_pool;
  CpuMath m_math;
  const CpuFeatures* m_fast;  // fast math: the CPU's features; null in precise math
};

}  // namespace

CpuMath parseCpuMath(const std::string& value, const std::string& what) {
  if (value == "precise") return CpuMath::Precise;
  if (value == "fast") return CpuMath::Fast;
  throw std::invalid_argument(what + " must be 'precise' or 'fast', not '" + value + "'");
}

CpuMath cpuMathFromEnv() {
  const char* env = std::getenv("LAYERLENS_CPU_MATH");
  return env && *env ? parseCpuMath(env, "LAYERLENS_CPU_MATH") : CpuMath::Precise;
}

const char* cpuMathName(CpuMath math) {
  return math == CpuMath::Fast ? "fast" : "precise";
}

std::unique_ptr<Backend> makeCpuBackend(int threads) {
  return makeCpuBackend(threads, cpuMathFromEnv());
}

std::unique_ptr<Backend> makeCpuBackend(int threads, CpuMath math) {
  return std::make_unique<CpuBackend>(threads, math);
}

}  // namespace ll::kern
