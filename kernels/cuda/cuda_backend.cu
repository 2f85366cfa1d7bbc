// The CUDA Backend: device memory, weights and the op dispatch onto the kernels of this folder,
// plus the factory makeCudaBackend (nullptr with a reason when no usable GPU is present).
//
// Math mode: env LAYERLENS_CUDA_MATH=precise|fast (default precise). precise keeps every matmul
// in f32 (TF32 off; what the parity tests compare); fast gives cuBLAS bf16 operands with f32
// accumulation (TF32 for F32 weights), several times faster on tensor cores, and attention on
// tensor cores with fp16 Q/K/V/P (f32 accumulation and softmax). Norms, element-wise ops and the
// n == 1 mat-vec are f32 in both modes. In fast mode, env LAYERLENS_CUDA_ATTN=mma selects the
// mma.sync flash kernel (attention_mma.cuh) for prefill-sized calls at head dims 64 and 128;
// the default (wmma) keeps the WMMA kernels until the mma one has passed the op tests on a GPU.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/backends.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/dequant.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/norm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/rope_freq.h"

namespace ll::kern {
namespace {

using namespace ll::kern::cuda;

std::string mib(size_t bytes) {
  return std::to_string((bytes + (1u << 19)) >> 20) + " MiB";
}

class CudaWeight : public Weight {
 public:
  ~CudaWeight() override {
    if (data) cudaFree(data);
    if (vec) cudaFree(vec);
  }
  uint8_t* data = nullptr;  // raw file bytes
  size_t rowBytes = 0;
  float* vec = nullptr;  // f32 copy of a vector weight (rows == 1)
};

const CudaWeight& asCuda(const Weight& w) {
  const auto* c = dynamic_cast<const CudaWeight*>(&w);
  if (!c)
    throw std::invalid_argument("CUDA backend: weight '" + w.name + "' belongs to another backend");
  return *c;
}

class CudaBackend : public Backend {
 public:
  CudaBackend(int device, MathMode mode, bool mmaAttention)
      : m_device(device), m_mode(mode), m_mmaAttention(mmaAttention) {
    check(cudaSetDevice(device), "cudaSetDevice");
    std::string why;
    m_blasApi = cublasApi(&why);
    if (!m_blasApi) throw std::runtime_error(why);
    check(cudaStreamCreateWithFlags(&m_stream, cudaStreamNonBlocking), "cudaStreamCreate");
    if (m_blasApi->create(&m_blas) != CUBLAS_STATUS_SUCCESS) {
      cudaStreamDestroy(m_stream);
      throw std::runtime_error("cuBLAS could not be initialised");
    }
    checkBlas(m_blasApi->setStream(m_blas, m_stream), "cublasSetStream");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    m_desc = std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
             std::to_string(prop.minor) + ", " + mib(prop.totalGlobalMem) + ", " +
             (mode == MathMode::Fast ? "fast bf16" : "precise f32") + " matmul" +
             (mode == MathMode::Fast && mmaAttention ? ", mma attention" : "") + ")";
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(m_stream);
    for (int i = 0; i < 2; ++i) {
      if (m_stage[i]) cudaFreeHost(m_stage[i]);
      if (m_stageDone[i]) cudaEventDestroy(m_stageDone[i]);
    }
    m_blasApi->destroy(m_blas);
    cudaStreamDestroy(m_stream);
  }

  std::string name() const override { return "cuda"; }
  std::string deviceDescription() const override { return m_desc; }
  int deviceOrdinal() const override { return m_device; }
  void* nativeStream() const override { return m_stream; }

  void* alloc(size_t bytes) override {
    if (bytes == 0) return nullptr;
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free allocation error
      size_t freeB = 0, totalB = 0;
      cudaMemGetInfo(&freeB, &totalB);
      throw std::runtime_error("CUDA: out of device memory allocating " + mib(bytes) + " (" +
                               mib(freeB) + " free of " + mib(totalB) +
                               "): " + cudaGetErrorString(e));
    }
    return p;
  }
  void free(void* p) override {
    if (p) cudaFree(p);
  }
  void upload(void* dst, const void* hostSrc, size_t bytes) override {
    if (bytes)
      check(cudaMemcpyAsync(dst, hostSrc, bytes, cudaMemcpyHostToDevice, m_stream), "upload");
  }
  // Large downloads go through two pinned staging buffers: the device copies chunk i+1 while the
  // host copies chunk i out (pageable device-to-host copies are several times slower, most of all
  // in virtual machines where every page fault is expensive).
  // Thread-safe (Backend::hostMemory() is false: a UI thread may read a trace while ops run): the
  // copies go on the ops' stream, so they follow every op enqueued before them, and concurrent
  // staged downloads take turns with the staging buffers.
  void download(void* hostDst, const void* src, size_t bytes) override {
    check(cudaSetDevice(m_device), "download: cudaSetDevice");  // per host thread
    auto direct = [&] {
      if (bytes)
        check(cudaMemcpyAsync(hostDst, src, bytes, cudaMemcpyDeviceToHost, m_stream), "download");
      sync();
    };
    if (bytes < kStageMin) return direct();
    std::lock_guard<std::mutex> lock(m_stageMutex);
    if (!stagingReady()) return direct();
    auto* dst = static_cast<uint8_t*>(hostDst);
    const auto* from = static_cast<const uint8_t*>(src);
    const size_t nChunks = (bytes + kStageBytes - 1) / kStageBytes;
    auto issue = [&](size_t i) {
      const size_t off = i * kStageBytes, n = std::min(kStageBytes, bytes - off);
      check(cudaMemcpyAsync(m_stage[i % 2], from + off, n, cudaMemcpyDeviceToHost, m_stream),
            "download");
      check(cudaEventRecord(m_stageDone[i % 2], m_stream), "download: event");
    };
    issue(0);
    for (size_t i = 0; i < nChunks; ++i) {
      if (i + 1 < nChunks) issue(i + 1);  // its buffer was emptied by iteration i - 1
      check(cudaEventSynchronize(m_stageDone[i % 2]), "download");
      const size_t off = i * kStageBytes, n = std::min(kStageBytes, bytes - off);
      std::memcpy(dst + off, m_stage[i % 2], n);
    }
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, m_stream), "copy");
  }
  void fill(float* dst, float value, size_t count) override {
    cuda::fill(dst, value, count, m_stream);
  }
  void sync() override { check(cudaStreamSynchronize(m_stream), "sync"); }
  size_t freeMemory() const override {
    size_t freeB = 0, totalB = 0;
    check(cudaMemGetInfo(&freeB, &totalB), "cudaMemGetInfo");
    return freeB;
  }

  std::unique_ptr<Weight> loadWeight(const WeightDesc& d) override {
    const BlockShape bs = blockShape(d.type);
    if (bs.elems == 0)
      throw std::invalid_argument("CUDA backend: weight '" + d.name + "' has unsupported type " +
                                  std::to_string(int(d.type)));
    if (d.rows <= 0 || d.cols <= 0 || d.cols % bs.elems != 0)
      throw std::invalid_argument("CUDA backend: weight '" + d.name + "' has a bad shape");
    const size_t rowBytes = size_t(d.cols / bs.elems) * bs.bytes;
    if (d.nbytes != rowBytes * size_t(d.rows) || !d.data)
      throw std::invalid_argument("CUDA backend: weight '" + d.name + "' holds " +
                                  std::to_string(d.nbytes) + " bytes, expected " +
                                  std::to_string(rowBytes * size_t(d.rows)));
    auto w = std::make_unique<CudaWeight>();
    w->name = d.name;
    w->type = d.type;
    w->rows = d.rows;
    w->cols = d.cols;
    w->rowBytes = rowBytes;
    w->data = static_cast<uint8_t*>(alloc(d.nbytes));
    // Synchronous: the caller may unmap the file right after this returns.
    check(cudaMemcpyAsync(w->data, d.data, d.nbytes, cudaMemcpyHostToDevice, m_stream),
          "loadWeight");
    if (d.rows == 1) {
      if (d.type == QType::F32) {
        w->vec = nullptr;
      } else {
        w->vec = static_cast<float*>(alloc(size_t(d.cols) * sizeof(float)));
        dequantRowsF32(d.type, w->data, rowBytes, 0, 1, d.cols, w->vec, m_stream);
      }
    }
    sync();
    return w;
  }
  const float* vectorData(const Weight& w) override {
    const CudaWeight& c = asCuda(w);
    if (c.rows != 1) throw std::invalid_argument("vectorData: '" + c.name + "' is not a vector");
    return c.vec ? c.vec : reinterpret_cast<const float*>(c.data);
  }

  void matmul(const Weight& w, const float* x, float* y, int n) override {
    const CudaWeight& c = asCuda(w);
    MatmulContext ctx{m_blasApi, m_blas, m_stream, &m_weightScratch, &m_inputScratch, m_mode};
    cuda::matmul(ctx, c.type, c.data, c.rowBytes, c.rows, c.cols, x, y, n);
  }
  void getRows(const Weight& w, const int32_t* hostIds, int n, float* out) override {
    const CudaWeight& c = asCuda(w);
    if (n <= 0) return;
    for (int i = 0; i < n; ++i)
      if (hostIds[i] < 0 || hostIds[i] >= c.rows)
        throw std::out_of_range("getRows: row " + std::to_string(hostIds[i]) + " outside '" +
                                c.name + "'");
    auto* ids = static_cast<int32_t*>(m_idScratch.get(size_t(n) * sizeof(int32_t)));
    upload(ids, hostIds, size_t(n) * sizeof(int32_t));
    gatherWeightRows(c.type, c.data, c.rowBytes, ids, n, c.cols, out, m_stream);
  }
  void rmsNorm(const float* x, const float* w, float* y, int n, int dim, float eps) override {
    cuda::rmsNorm(x, w, y, n, dim, eps, m_stream);
  }
  void layerNorm(const float* x, const float* w, const float* b, float* y, int n, int dim,
                 float eps) override {
    cuda::layerNorm(x, w, b, y, n, dim, eps, m_stream);
  }
  void rope(float* x, const int32_t* positions, int n, int nHead, int headDim,
            const RopeParams& p) override {
    if (p.nRot <= 0 || p.nRot > headDim || p.nRot % 2 != 0)
      throw std::invalid_argument("rope: nRot must be even and in (0, headDim]");
    const int half = p.nRot / 2;
    std::vector<double> inv(half);
    for (int i = 0; i < half; ++i) inv[i] = ropeInvFreq(i, p);
    if (inv != m_ropeHost) {
      auto* dev = static_cast<double*>(m_ropeScratch.get(size_t(half) * sizeof(double)));
      // Synchronous so the host vector may change while earlier rope launches still run.
      sync();
      check(cudaMemcpy(dev, inv.data(), size_t(half) * sizeof(double), cudaMemcpyHostToDevice),
            "rope table");
      m_ropeHost = inv;
    }
    cuda::rope(x, positions, n, nHead, headDim, p.nRot, p.neox,
               static_cast<const double*>(m_ropeScratch.get(size_t(half) * sizeof(double))),
               ropeMagnitude(p), m_stream);
  }
  void attention(const AttnArgs& a) override {
    float* lse = nullptr;
    if (a.colSum || a.lastRow)
      lse = static_cast<float*>(
          m_lseScratch.get(size_t(a.nHead) * std::max(a.nQ, 1) * sizeof(float)));
    cuda::attention(a, lse, m_mode == MathMode::Fast, m_stream,
                    m_mmaAttention ? &m_mmaScratch : nullptr);
  }
  void attentionMap(const AttnArgs& a, int head, float* out) override {
    auto* lse = static_cast<float*>(m_lseScratch.get(size_t(std::max(a.nQ, 1)) * sizeof(float)));
    cuda::attentionMap(a, head, out, lse, m_mode == MathMode::Fast, m_stream);
  }
  void addBias(float* x, const float* bias, int n, int dim) override {
    cuda::addBias(x, bias, n, dim, m_stream);
  }
  void add(const float* a, const float* b, float* y, size_t count) override {
    cuda::add(a, b, y, count, m_stream);
  }
  void addRowVector(float* x, const float* v, float alpha, int rowBegin, int n, int dim) override {
    cuda::addRowVector(x, v, alpha, rowBegin, n, dim, m_stream);
  }
  void swiglu(const float* gate, const float* up, float* y, size_t count) override {
    cuda::swiglu(gate, up, y, count, m_stream);
  }
  void gelu(float* x, size_t count) override { cuda::gelu(x, count, m_stream); }
  void glu(Glu kind, const float* gate, const float* up, float* y, size_t count) override {
    cuda::glu(kind, gate, up, y, count, m_stream);
  }
  void softcap(float* x, float cap, size_t count) override {
    cuda::softcap(x, cap, count, m_stream);
  }
  void scaleRows(float* x, const float* s, int n, int dim) override {
    cuda::scaleRows(x, s, n, dim, m_stream);
  }
  void sigmoid(float* x, size_t count) override { cuda::sigmoid(x, count, m_stream); }
  void gatherRows(const float* src, const int32_t* idx, int n, int dim, float* dst) override {
    cuda::gatherRows(src, idx, n, dim, dst, m_stream);
  }
  void scatterAddRows(const float* src, const int32_t* idx, const float* w, int n, int dim,
                      float* dst) override {
    cuda::scatterAddRows(src, idx, w, n, dim, dst, m_stream);
  }

 private:
  static constexpr size_t kStageBytes = size_t(8) << 20, kStageMin = size_t(1) << 20;

  // Pinned staging is an optimisation: when it cannot be had, downloads stay direct.
  bool stagingReady() {
    if (m_stageTried) return m_stage[1] != nullptr;
    m_stageTried = true;
    for (int i = 0; i < 2; ++i) {
      if (cudaMallocHost(&m_stage[i], kStageBytes) != cudaSuccess ||
          cudaEventCreateWithFlags(&m_stageDone[i], cudaEventDisableTiming) != cudaSuccess) {
        cudaGetLastError();
        for (int j = 0; j <= i; ++j) {
          if (m_stage[j]) cudaFreeHost(m_stage[j]);
          if (m_stageDone[j]) cudaEventDestroy(m_stageDone[j]);
          m_stage[j] = nullptr;
          m_stageDone[j] = nullptr;
        }
        return false;
      }
    }
    return true;
  }

  int m_device = 0;
  void* m_stage[2] = {nullptr, nullptr};
  cudaEvent_t m_stageDone[2] = {nullptr, nullptr};
  bool m_stageTried = false;
  std::mutex m_stageMutex;  // staging buffers, events and m_stageTried
  MathMode m_mode;
  bool m_mmaAttention = false;
  cudaStream_t m_stream = nullptr;
  const CublasApi* m_blasApi = nullptr;
  cublasHandle_t m_blas = nullptr;
  std::string m_desc;
  Scratch m_weightScratch, m_inputScratch, m_idScratch, m_ropeScratch, m_lseScratch, m_mmaScratch;
  std::vector<double> m_ropeHost;
};

}  // namespace

bool cudaBackendBuilt() {
  return true;
}

std::unique_ptr<Backend> makeCudaBackend(std::string* why) {
  auto say = [&](const std::string& s) {
    if (why) *why = s;
  };
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    say(e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice
            ? std::string("no usable NVIDIA driver or GPU (") + cudaGetErrorString(e) + ")"
            : std::string("CUDA unavailable: ") + cudaGetErrorString(e));
    return nullptr;
  }
  if (count == 0) {
    say("no CUDA device present");
    return nullptr;
  }
  MathMode mode = MathMode::Precise;
  if (const char* env = std::getenv("LAYERLENS_CUDA_MATH"); env && *env) {
    if (std::strcmp(env, "fast") == 0)
      mode = MathMode::Fast;
    else if (std::strcmp(env, "precise") != 0) {
      say(std::string("LAYERLENS_CUDA_MATH must be 'precise' or 'fast', not '") + env + "'");
      return nullptr;
    }
  }
  bool mma = false;
  if (const char* env = std::getenv("LAYERLENS_CUDA_ATTN"); env && *env) {
    if (std::strcmp(env, "mma") == 0)
      mma = true;
    else if (std::strcmp(env, "wmma") != 0) {
      say(std::string("LAYERLENS_CUDA_ATTN must be 'mma' or 'wmma', not '") + env + "'");
      return nullptr;
    }
  }
  try {
    auto b = std::make_unique<CudaBackend>(0, mode, mma);
    if (why) why->clear();
    return b;
  } catch (const std::exception& ex) {
    say(ex.what());
    return nullptr;
  }
}

}  // namespace ll::kern
