// The Backend interface: every op the engine needs, implemented by reference/ (plain loops, tests
// only), cpu/ (Eigen + threads) and cuda/ (optional). The engine is written once against this.
//
// Conventions (all backends):
// - Activations are f32, row-major: a [n, dim] matrix is n rows of dim floats.
// - Pointers passed to ops live in the backend's memory (host for CPU, device for CUDA) and come
//   from alloc(); pointers documented as "host" are ordinary host memory.
// - Weights keep their file type (quantized, F16, BF16, F32); matmul dequantizes block by block.
//   A weight matrix is [rows, cols] with GGUF's ne1 = rows (outputs) and ne0 = cols (inputs).
// - Ops may be asynchronous; download() and sync() wait.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/attn_rule.h"
#include "kernels/quant.h"

namespace ll::kern {

// Raw weight bytes handed to a backend. data points at host memory (often an mmapped file) that
// outlives the Weight on backends that do not copy (the CPU backend keeps the pointer).
struct WeightDesc {
  std::string name;  // GGUF name, e.g. "blk.3.attn_q.weight", for messages
  QType type = QType::F32;
  int64_t rows = 1;  // ne1 (1 for vectors)
  int64_t cols = 0;  // ne0
  const void* data = nullptr;
  size_t nbytes = 0;
};

// A weight matrix or vector owned by a backend.
class Weight {
 public:
  virtual ~Weight() = default;
  std::string name;
  QType type = QType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Gate activations of gated FFNs: Silu (SwiGLU), GeluTanh (GeGLU, Gemma), SiluOai (gpt-oss:
// g = min(g, 7), u = clamp(u, -7, 7); y = g * sigmoid(1.702 g) * (u + 1)).
enum class Glu { Silu, GeluTanh, SiluOai };
inline constexpr float kOaiSwigluLimit = 7.0f;
inline constexpr float kOaiSwigluAlpha = 1.702f;

struct RopeParams {
  int nRot = 0;            // rotated dimensions per head (== headDim for all supported archs)
  float base = 10000.0f;   // theta base
  float freqScale = 1.0f;  // linear scaling: positions multiplied by this
  bool neox = false;       // false: pairs (2i, 2i+1) (GGUF llama); true: pairs (i, i + nRot/2)
  // llama3 scaling (factor 0 = off)
  float llama3Factor = 0.0f;
  float llama3LowFreqFactor = 1.0f;
  float llama3HighFreqFactor = 4.0f;
  int llama3OrigCtx = 8192;
  // Per-pair frequency divisors (phi3's rope_factors_long/short), empty: none.
  std::vector<float> freqFactors;
  float attnFactor = 1.0f;  // cos and sin are multiplied by this (phi3 long-rope attn factor)
  // YaRN (extFactor 0: off): each pair's frequency mixes the interpolated (x freqScale) and the
  // original one by a ramp between the correction dims of yarnOrigCtx / betaFast / betaSlow, and
  // cos/sin get an extra factor 1 + 0.1 ln(1 / freqScale) (ggml's rope_yarn).
  float yarnExtFactor = 0.0f;
  int yarnOrigCtx = 0;
  float yarnBetaFast = 32.0f;
  float yarnBetaSlow = 1.0f;
};

// Causal attention of nQ new query rows against a KV cache of nKv rows. Query row i sits at cache
// index nKv - nQ + i and sees keys 0..that index. GQA: query head h uses kv head h /
// (nHead/nHeadKv).
struct AttnArgs {
  int nQ = 0;
  int nKv = 0;
  int nHead = 0;
  int nHeadKv = 0;
  int headDim = 0;
  float scale = 1.0f;        // usually 1/sqrt(headDim)
  const float* q = nullptr;  // [nQ, nHead*headDim]
  const float* k = nullptr;  // [nKv, nHeadKv*headDim]
  const float* v = nullptr;  // [nKv, nHeadKv*headDim]
  float* out = nullptr;      // [nQ, nHead*headDim]
  // Statistics computed in the same pass (each optional: nullptr skips it).
  float* entropy = nullptr;  // [nHead, nQ]: -sum_j p_ij ln p_ij per head and query row
  float* colSum = nullptr;   // [nHead, nKv]: ADDS sum over these query rows of p_ij (H2O score)
  float* lastRow = nullptr;  // [nHead, nKv]: p of the last query row (nQ-1); keys past it are 0
  // Optional knockout mask (uint8 per cache index, backend memory): a query whose blockQ is
  // nonzero may not attend a key whose blockK is nonzero, except itself (its own key always stays
  // visible so a row never becomes empty).
  const uint8_t* blockQ = nullptr;  // [nKv]
  const uint8_t* blockK = nullptr;  // [nKv]
  // Optional per-kv-head key mask (backend memory, uint8 [nHeadKv, headKeepLen]): a query row whose
  // cache index is >= headKeepFrom does not attend key j < headKeepLen of kv head g when
  // headKeep[g * headKeepLen + j] == 0 (its own key stays visible); keys >= headKeepLen stay
  // visible.
  const uint8_t* headKeep = nullptr;
  int headKeepLen = 0;
  int headKeepFrom = 0;
  // Architecture features (kernels/attn_rule.h defines them once for every backend):
  int window = 0;        // > 0: sliding window, query at cache index qi sees keys qi-window+1..qi
  float softcap = 0.0f;  // > 0: logits are softcap * tanh(scale * q.k / softcap) (Gemma 2)
  // Optional per-head attention-sink logits (backend memory, f32 [nHead]; gpt-oss): exp(sink)
  // joins the softmax denominator and multiplies no value, so a row's probabilities sum to < 1.
  // Entropy counts the sink as one more outcome; colSum / lastRow / maps hold the keys' share.
  const float* sinks = nullptr;

  AttnMask mask() const {
    return AttnMask{window, softcap, blockQ, blockK, headKeep, headKeepLen, headKeepFrom};
  }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual std::string deviceDescription() const = 0;

  // --- memory ---------------------------------------------------------------------------------
  virtual void* alloc(size_t bytes) = 0;  // throws std::runtime_error when out of memory
  virtual void free(void* p) = 0;
  virtual void upload(void* dst, const void* hostSrc, size_t bytes) = 0;
  virtual void download(void* hostDst, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;  // within backend memory
  virtual void fill(float* dst, float value, size_t count) = 0;
  virtual void sync() = 0;
  // Bytes of backend memory free now (CPU: a large number; CUDA: cudaMemGetInfo).
  virtual size_t freeMemory() const = 0;
  // True when backend memory is ordinary host memory (CPU, reference): the engine then keeps
  // captures in plain host arrays and lets ops write into them directly. Otherwise captures stay
  // in backend buffers, and download() may be called from another thread (a UI reading a trace)
  // while ops run, so it must be safe to call concurrently.
  virtual bool hostMemory() const { return false; }
  // The device ordinal and the stream (a cudaStream_t) the ops run on, for a transport that moves
  // backend buffers in the ops' order (NCCL between pipeline stages); -1 and nullptr on backends
  // without a device.
  virtual int deviceOrdinal() const { return -1; }
  virtual void* nativeStream() const { return nullptr; }
  // A new backend of the same kind that accepts this one's weights, for work on another thread
  // (recomputing a trace's queries while this one runs the next pass); nullptr if unsupported.
  virtual std::unique_ptr<Backend> sibling() const { return nullptr; }

  // --- weights --------------------------------------------------------------------------------
  virtual std::unique_ptr<Weight> loadWeight(const WeightDesc& desc) = 0;
  // f32 data of a vector weight (rows == 1), converted once at load: norm weights and biases.
  virtual const float* vectorData(const Weight& w) = 0;

  // --- ops ------------------------------------------------------------------------------------
  // y[n, w.rows] = x[n, w.cols] * w^T
  virtual void matmul(const Weight& w, const float* x, float* y, int n) = 0;
  // out[i, :] = row ids[i] of w, dequantized (ids: host)
  virtual void getRows(const Weight& w, const int32_t* hostIds, int n, float* out) = 0;
  // y = x / rms(x) * w  per row (w may be nullptr)
  virtual void rmsNorm(const float* x, const float* w, float* y, int n, int dim, float eps) = 0;
  // y = (x - mean) / sqrt(var + eps) * w + b  per row (w, b may be nullptr)
  virtual void layerNorm(const float* x, const float* w, const float* b, float* y, int n, int dim,
                         float eps) = 0;
  // x[n, nHead*headDim] rotated in place; positions[n] in backend memory
  virtual void rope(float* x, const int32_t* positions, int n, int nHead, int headDim,
                    const RopeParams& p) = 0;
  virtual void attention(const AttnArgs& a) = 0;
  // Full probability map of one head: out[nQ, nKv] (masked entries exactly 0). Same args as
  // attention (out/stats ignored).
  virtual void attentionMap(const AttnArgs& a, int head, float* out) = 0;

  // x[n, dim] += bias[dim]
  virtual void addBias(float* x, const float* bias, int n, int dim) = 0;
  // y = a + b (elementwise; y may alias a or b)
  virtual void add(const float* a, const float* b, float* y, size_t count) = 0;
  // x[r, :] += alpha * v[:] for r in [rowBegin, n)   (steering)
  virtual void addRowVector(float* x, const float* v, float alpha, int rowBegin, int n,
                            int dim) = 0;
  // y = silu(gate) * up
  virtual void swiglu(const float* gate, const float* up, float* y, size_t count) = 0;
  // gate[n, up.rows] = silu(gate) * (x[n, up.cols] * up^T): SwiGLU's up projection fused with the
  // gating. The default runs matmul and swiglu through a temporary [n, up.rows] buffer;
  // fusedSwiglu() says whether this backend avoids it (the engine then uses this op).
  virtual void matmulSwiglu(const Weight& up, const float* x, float* gate, int n);
  virtual bool fusedSwiglu() const { return false; }
  // x = gelu(x), tanh approximation
  virtual void gelu(float* x, size_t count) = 0;
  // y = act(gate) * up for the gated FFNs beyond SwiGLU (y may alias gate or up).
  virtual void glu(Glu kind, const float* gate, const float* up, float* y, size_t count) = 0;
  // x = cap * tanh(x / cap)   (Gemma 2's final-logit soft-cap)
  virtual void softcap(float* x, float cap, size_t count) = 0;
  // x[r, :] *= s[r]
  virtual void scaleRows(float* x, const float* s, int n, int dim) = 0;
  // x = sigmoid(x)
  virtual void sigmoid(float* x, size_t count) = 0;
  // dst[i, :] = src[idx[i], :]   (idx in backend memory)
  virtual void gatherRows(const float* src, const int32_t* idx, int n, int dim, float* dst) = 0;
  // dst[idx[i], :] += w[i] * src[i, :]   (idx, w in backend memory; idx may repeat only across
  // separate calls)
  virtual void scatterAddRows(const float* src, const int32_t* idx, const float* w, int n, int dim,
                              float* dst) = 0;
};

// RAII buffer of backend memory.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& b, size_t bytes)
      : m_backend(&b), m_bytes(bytes), m_ptr(bytes ? b.alloc(bytes) : nullptr) {}
  ~Buffer() { reset(); }
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      m_backend = o.m_backend;
      m_bytes = o.m_bytes;
      m_ptr = o.m_ptr;
      o.m_ptr = nullptr;
      o.m_bytes = 0;
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void reset() {
    if (m_ptr) m_backend->free(m_ptr);
    m_ptr = nullptr;
    m_bytes = 0;
  }
  void* get() const { return m_ptr; }
  float* f32() const { return static_cast<float*>(m_ptr); }
  int32_t* i32() const { return static_cast<int32_t*>(m_ptr); }
  size_t bytes() const { return m_bytes; }

 private:
  Backend* m_backend = nullptr;
  size_t m_bytes = 0;
  void* m_ptr = nullptr;
};

inline void Backend::matmulSwiglu(const Weight& up, const float* x, float* gate, int n) {
  Buffer u(*this, size_t(n) * size_t(up.rows) * sizeof(float));
  matmul(up, x, static_cast<float*>(u.get()), n);
  swiglu(gate, static_cast<const float*>(u.get()), gate, size_t(n) * size_t(up.rows));
}

}  // namespace ll::kern
