// Attention kernels. Tiles of BQ = 64 queries x BK = 64 keys per block of 128 threads; thread
// (ty, tx) owns query rows ty*4..ty*4+3 and keys tx, tx+8, ... of a tile, and the same rows of
// the output (dims tx, tx+8, ...), so the online-softmax rescale needs no communication beyond
// the 8 lanes that share a row. K and V share one shared-memory tile (loaded in turn).
//
// Online statistics per row: running max m, l = sum exp(s - m), A = sum exp(s - m) (s - m).
// When m grows to m', A' = alpha (A + (m - m') l) with alpha = exp(m - m'); at the end the
// entropy is ln l - A / l (= m + ln l - S1 / l without the cancellation of large terms).
#include <cfloat>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_fast.cuh"
#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/cuda_util.cuh"

namespace ll::kern::cuda {
namespace {

constexpr int BQ = 64, BK = 64, kThreads = 128, RQ = 4, CK = 8;

struct Params {
  int nQ, nKv, nHead, nHeadKv, D, headBase;
  float scale;
  const float *q, *k, *v;
  float* out;
  float* entropy;
  float* lse;
  float* colSum;
  float* lastRow;
  float* map;          // one head's [nQ, nKv]
  AttnMask mask;       // kernels/attn_rule.h: window, soft-cap, knockout, per-head keep
  const float* sinks;  // [nHead] sink logits or nullptr
  bool lastOnly;
};

// 64 rows x DP columns (zero past D and past `rows`). Loads are issued in batches of 16 per
// thread before any is stored: one at a time, each tile would wait for 32+ serial round trips.
template <int DP>
__device__ __forceinline__ void loadTile(float* dst, const float* __restrict__ src, int row0,
                                         int rows, int stride, int D) {
  constexpr int LD = DP + 1, PER = 64 * DP / kThreads, BATCH = 16;
  static_assert(PER % BATCH == 0, "tile split");
#pragma unroll 1
  for (int b0 = 0; b0 < PER; b0 += BATCH) {
    float v[BATCH];
#pragma unroll
    for (int i = 0; i < BATCH; ++i) {
      const int idx = threadIdx.x + (b0 + i) * kThreads, r = idx / DP, d = idx % DP, gr = row0 + r;
      v[i] = (gr < rows && d < D) ? __ldg(src + size_t(gr) * stride + d) : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < BATCH; ++i) {
      const int idx = threadIdx.x + (b0 + i) * kThreads;
      dst[(idx / DP) * LD + idx % DP] = v[i];
    }
  }
}

// Query row qi (cache index nKv - nQ + qi) sees key j: the rule of attn_rule.h; rows past nQ
// (padding of the last tile) see nothing.
__device__ __forceinline__ bool visible(const Params& p, int qi, int j, int kvh) {
  return qi < p.nQ && attnVisible(p.mask, p.nKv - p.nQ + qi, j, kvh);
}

// s[i][c] = q_row(ty*4+i) . k_row(tx+8c), or -inf when masked (callers take attnLogit of the
// visible ones where they use them: a soft-cap's tanh inlined 32 times at once would spill).
template <int DP>
__device__ __forceinline__ void scores(const Params& p, const float* sQ, const float* sK, int q0,
                                       int k0, int kvh, float (&s)[RQ][CK]) {
  constexpr int LD = DP + 1;
  const int ty = threadIdx.x / 8, tx = threadIdx.x % 8;
#pragma unroll
  for (int i = 0; i < RQ; ++i)
#pragma unroll
    for (int c = 0; c < CK; ++c) s[i][c] = 0.0f;
#pragma unroll 4
  for (int d = 0; d < DP; ++d) {
    float qv[RQ], kv[CK];
#pragma unroll
    for (int i = 0; i < RQ; ++i) qv[i] = sQ[(ty * RQ + i) * LD + d];
#pragma unroll
    for (int c = 0; c < CK; ++c) kv[c] = sK[(tx + 8 * c) * LD + d];
#pragma unroll
    for (int i = 0; i < RQ; ++i)
#pragma unroll
      for (int c = 0; c < CK; ++c) s[i][c] = fmaf(qv[i], kv[c], s[i][c]);
  }
#pragma unroll
  for (int i = 0; i < RQ; ++i) {
    const int qi = q0 + ty * RQ + i;
#pragma unroll
    for (int c = 0; c < CK; ++c)
      if (!visible(p, qi, k0 + tx + 8 * c, kvh)) s[i][c] = -INFINITY;
  }
}

__device__ __forceinline__ float rowMax8(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 4));
}
__device__ __forceinline__ float rowSum8(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  v += __shfl_xor_sync(0xffffffffu, v, 2);
  return v + __shfl_xor_sync(0xffffffffu, v, 4);
}

template <int DP>
__global__ void __launch_bounds__(kThreads) forwardKernel(Params p) {
  extern __shared__ float smem[];
  constexpr int LD = DP + 1, NC = DP / 8;
  float* sQ = smem;
  float* sKV = sQ + BQ * LD;
  float* sP = sKV + BK * LD;  // [BQ][BK + 1]
  const int h = p.headBase + blockIdx.y;
  const int kvh = h / (p.nHead / p.nHeadKv);
  const int q0 = blockIdx.x * BQ;
  const int ty = threadIdx.x / 8, tx = threadIdx.x % 8;
  const int qStride = p.nHead * p.D, kStride = p.nHeadKv * p.D;
  const bool needOut = p.out != nullptr;

  loadTile<DP>(sQ, p.q + size_t(h) * p.D, q0, p.nQ, qStride, p.D);
  float m[RQ], l[RQ], A[RQ], o[RQ][NC];
#pragma unroll
  for (int i = 0; i < RQ; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
    A[i] = 0.0f;
#pragma unroll
    for (int c = 0; c < NC; ++c) o[i][c] = 0.0f;
  }
  const int lastQ = min(q0 + BQ, p.nQ) - 1;
  const int keyEnd = p.nKv - p.nQ + lastQ + 1;
  // A sliding window hides the key tiles before the first row's first key.
  const int keyBegin = attnFirstKey(p.mask, p.nKv - p.nQ + q0) / BK * BK;
  for (int k0 = keyBegin; k0 < keyEnd; k0 += BK) {
    __syncthreads();  // the previous tile's V and P are consumed
    loadTile<DP>(sKV, p.k + size_t(kvh) * p.D, k0, p.nKv, kStride, p.D);
    __syncthreads();
    float s[RQ][CK];
    scores<DP>(p, sQ, sKV, q0, k0, kvh, s);
#pragma unroll
    for (int i = 0; i < RQ; ++i)
#pragma unroll
      for (int c = 0; c < CK; ++c)
        if (s[i][c] != -INFINITY) s[i][c] = attnLogit(p.mask, s[i][c], p.scale);
#pragma unroll
    for (int i = 0; i < RQ; ++i) {
      const float mNew =
          fmaxf(m[i], rowMax8(fmaxf(fmaxf(fmaxf(s[i][0], s[i][1]), fmaxf(s[i][2], s[i][3])),
                                    fmaxf(fmaxf(s[i][4], s[i][5]), fmaxf(s[i][6], s[i][7])))));
      float ps = 0.0f, pa = 0.0f;
#pragma unroll
      for (int c = 0; c < CK; ++c) {
        float e = 0.0f;
        if (s[i][c] != -INFINITY) {
          e = expf(s[i][c] - mNew);
          ps += e;
          pa += e * (s[i][c] - mNew);
        }
        sP[(ty * RQ + i) * (BK + 1) + tx + 8 * c] = e;
      }
      // Every lane of the warp shuffles; rows with nothing visible yet only skip the update.
      ps = rowSum8(ps);
      pa = rowSum8(pa);
      if (mNew == -INFINITY) continue;
      const float alpha = expf(m[i] - mNew);  // 0 when m was -inf
      A[i] = (l[i] > 0.0f ? alpha * (A[i] + (m[i] - mNew) * l[i]) : 0.0f) + pa;
      l[i] = alpha * l[i] + ps;
      m[i] = mNew;
#pragma unroll
      for (int c = 0; c < NC; ++c) o[i][c] *= alpha;
    }
    if (!needOut) continue;
    __syncthreads();  // scores are done with K; P is complete
    loadTile<DP>(sKV, p.v + size_t(kvh) * p.D, k0, p.nKv, kStride, p.D);
    __syncthreads();
#pragma unroll 4
    for (int kk = 0; kk < BK; ++kk) {
      float pv[RQ];
#pragma unroll
      for (int i = 0; i < RQ; ++i) pv[i] = sP[(ty * RQ + i) * (BK + 1) + kk];
#pragma unroll
      for (int c = 0; c < NC; ++c) {
        const float vv = sKV[kk * LD + tx + 8 * c];
#pragma unroll
        for (int i = 0; i < RQ; ++i) o[i][c] = fmaf(pv[i], vv, o[i][c]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < RQ; ++i) {
    const int qi = q0 + ty * RQ + i;
    if (qi >= p.nQ) continue;
    // The sink joins the denominator only (no value): o scales by alpha, l and A grow.
    const float alpha = p.sinks ? attnJoinSink(p.sinks[h], m[i], l[i], A[i]) : 1.0f;
    const float inv = alpha / l[i];
    if (needOut) {
      float* orow = p.out + size_t(qi) * qStride + size_t(h) * p.D;
#pragma unroll
      for (int c = 0; c < NC; ++c)
        if (tx + 8 * c < p.D) orow[tx + 8 * c] = o[i][c] * inv;
    }
    if (tx == 0) {
      const float lnl = logf(l[i]);
      if (p.entropy) p.entropy[size_t(h) * p.nQ + qi] = fmaxf(lnl - A[i] * inv, 0.0f);
      if (p.lse) p.lse[size_t(blockIdx.y) * p.nQ + qi] = m[i] + lnl;
    }
  }
}

// Second pass: block = (key tile, head); loops over the query tiles that can see the keys and
// recomputes p = exp(s - lse) for column sums, the last row and/or the map (lse includes the
// sink, so these are the keys' shares).
template <int DP, bool Capped>
__global__ void __launch_bounds__(kThreads) probsKernel(Params p) {
  extern __shared__ float smem[];
  // The soft-cap test at compile time: the uncapped kernel carries no tanh (it would spill).
  AttnMask mask = p.mask;
  if constexpr (!Capped) mask.softcap = 0.0f;
  constexpr int LD = DP + 1;
  float* sK = smem;
  float* sQ = sK + BK * LD;
  float* sL = sQ + BQ * LD;  // [BQ]
  float* sRed = sL + BQ;     // [BQ / RQ][BK]
  const int hl = blockIdx.y, h = p.headBase + hl;
  const int kvh = h / (p.nHead / p.nHeadKv);
  const int k0 = blockIdx.x * BK;
  const int ty = threadIdx.x / 8, tx = threadIdx.x % 8;
  const int qStride = p.nHead * p.D, kStride = p.nHeadKv * p.D;
  const int off = p.nKv - p.nQ;

  loadTile<DP>(sK, p.k + size_t(kvh) * p.D, k0, p.nKv, kStride, p.D);
  float cs[CK];
#pragma unroll
  for (int c = 0; c < CK; ++c) cs[c] = 0.0f;
  int qStart = p.lastOnly ? p.nQ - 1 : max(0, k0 - off);
  qStart = (qStart / BQ) * BQ;
  // Query rows past the window of the tile's last key see none of it.
  const int qEnd = attnLastQuery(p.mask, min(k0 + BK, p.nKv) - 1, p.nKv) - off + 1;
  for (int q0 = qStart; q0 < qEnd; q0 += BQ) {
    __syncthreads();
    loadTile<DP>(sQ, p.q + size_t(h) * p.D, q0, p.nQ, qStride, p.D);
    for (int i = threadIdx.x; i < BQ; i += kThreads)
      sL[i] = q0 + i < p.nQ ? p.lse[size_t(hl) * p.nQ + q0 + i] : 0.0f;
    __syncthreads();
    float s[RQ][CK];
    scores<DP>(p, sQ, sK, q0, k0, kvh, s);
#pragma unroll
    for (int i = 0; i < RQ; ++i) {
      const int qi = q0 + ty * RQ + i;
      const float lse = sL[ty * RQ + i];
#pragma unroll
      for (int c = 0; c < CK; ++c) {
        const int j = k0 + tx + 8 * c;
        const float pr =
            s[i][c] == -INFINITY ? 0.0f : expf(attnLogit(mask, s[i][c], p.scale) - lse);
        cs[c] += pr;
        if (qi < p.nQ && j < p.nKv) {
          if (p.map) p.map[size_t(qi) * p.nKv + j] = pr;
          if (p.lastRow && qi == p.nQ - 1) p.lastRow[size_t(h) * p.nKv + j] = pr;
        }
      }
    }
  }
  if (p.lastRow && (p.nQ - 1) / BQ * BQ >= qEnd)  // the last row's tile was skipped: all 0
    for (int j = threadIdx.x; j < BK; j += kThreads)
      if (k0 + j < p.nKv) p.lastRow[size_t(h) * p.nKv + k0 + j] = 0.0f;
  if (!p.colSum) return;
#pragma unroll
  for (int c = 0; c < CK; ++c) sRed[ty * BK + tx + 8 * c] = cs[c];
  __syncthreads();
  for (int j = threadIdx.x; j < BK; j += kThreads) {
    float t = 0.0f;
    for (int r = 0; r < BQ / RQ; ++r) t += sRed[r * BK + j];
    if (k0 + j < p.nKv) p.colSum[size_t(h) * p.nKv + k0 + j] += t;
  }
}

size_t forwardSmem(int dp) {
  return size_t(BQ * (dp + 1) + BK * (dp + 1) + BQ * (BK + 1)) * sizeof(float);
}
size_t probsSmem(int dp) {
  return size_t(BK * (dp + 1) + BQ * (dp + 1) + BQ + (BQ / RQ) * BK) * sizeof(float);
}

template <int DP>
void launch(const Params& p, int nHeads, bool forward, bool probs, cudaStream_t s) {
  int dev = 0, maxSmem = 0;
  check(cudaGetDevice(&dev), "attention: cudaGetDevice");
  check(cudaDeviceGetAttribute(&maxSmem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev),
        "attention: attribute");
  const size_t fs = forwardSmem(DP), ps = probsSmem(DP);
  if (fs > size_t(maxSmem) || ps > size_t(maxSmem))
    throw std::runtime_error(
        "CUDA attention: head dimension " + std::to_string(p.D) + " needs " + std::to_string(fs) +
        " bytes of shared memory per block; this GPU allows " + std::to_string(maxSmem));
  if (forward) {
    check(cudaFuncSetAttribute(forwardKernel<DP>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(fs)),
          "attention: smem attribute");
    dim3 grid(unsigned((p.nQ + BQ - 1) / BQ), unsigned(nHeads));
    forwardKernel<DP><<<grid, kThreads, fs, s>>>(p);
    checkLaunch("attention");
  }
  if (probs) {
    auto* kernel = p.mask.softcap > 0.0f ? probsKernel<DP, true> : probsKernel<DP, false>;
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(ps)),
          "attention: smem attribute");
    dim3 grid(unsigned((p.nKv + BK - 1) / BK), unsigned(nHeads));
    kernel<<<grid, kThreads, ps, s>>>(p);
    checkLaunch("attention (probabilities)");
  }
}

void dispatch(const Params& p, int nHeads, bool forward, bool probs, cudaStream_t s) {
  if (p.D <= 32)
    launch<32>(p, nHeads, forward, probs, s);
  else if (p.D <= 64)
    launch<64>(p, nHeads, forward, probs, s);
  else if (p.D <= 128)
    launch<128>(p, nHeads, forward, probs, s);
  else if (p.D <= kMaxHeadDim)
    launch<256>(p, nHeads, forward, probs, s);
  else
    throw std::runtime_error("CUDA attention: head dimension " + std::to_string(p.D) + " above " +
                             std::to_string(kMaxHeadDim));
}

void checkArgs(const AttnArgs& a) {
  if (a.nQ <= 0 || a.nKv <= 0 || a.nHead <= 0 || a.nHeadKv <= 0 || a.headDim <= 0)
    throw std::invalid_argument("attention: non-positive size");
  if (a.nQ > a.nKv) throw std::invalid_argument("attention: nQ > nKv");
  if (a.nHead % a.nHeadKv != 0) throw std::invalid_argument("attention: nHead % nHeadKv != 0");
  if (!a.q || !a.k || !a.v) throw std::invalid_argument("attention: missing q, k or v");
  if ((a.blockQ == nullptr) != (a.blockK == nullptr))
    throw std::invalid_argument("attention: blockQ and blockK must be given together");
  if (a.headKeep && a.headKeepLen < 0) throw std::invalid_argument("attention: headKeepLen < 0");
  if (a.window < 0) throw std::invalid_argument("attention: window < 0");
  if (!(a.softcap >= 0.0f) || !std::isfinite(a.softcap))
    throw std::invalid_argument("attention: softcap must be finite and >= 0");
}

Params makeParams(const AttnArgs& a) {
  Params p{};
  p.nQ = a.nQ;
  p.nKv = a.nKv;
  p.nHead = a.nHead;
  p.nHeadKv = a.nHeadKv;
  p.D = a.headDim;
  p.scale = a.scale;
  p.q = a.q;
  p.k = a.k;
  p.v = a.v;
  p.mask = a.mask();
  // A mask over no keys masks nothing: the kernels then never read the pointer.
  if (a.headKeepLen <= 0) p.mask.headKeep = nullptr;
  p.sinks = a.sinks;
  return p;
}

}  // namespace

void attention(const AttnArgs& a, float* lse, bool fast, cudaStream_t s, Scratch* mmaScratch) {
  checkArgs(a);
  if (!a.out) throw std::invalid_argument("attention: missing out");
  if (fast && mmaScratch && attentionMmaSupports(a))
    return attentionMma(a, lse, mmaScratch->get(attentionMmaScratchBytes(a)), s);
  if (fast) return attentionFast(a, lse, s);
  Params p = makeParams(a);
  p.out = a.out;
  p.entropy = a.entropy;
  const bool probs = a.colSum || a.lastRow;
  p.lse = probs ? lse : nullptr;
  dispatch(p, a.nHead, true, false, s);
  if (!probs) return;
  p.colSum = a.colSum;
  p.lastRow = a.lastRow;
  p.lastOnly = a.colSum == nullptr;
  dispatch(p, a.nHead, false, true, s);
}

void attentionMap(const AttnArgs& a, int head, float* out, float* lse, bool fast, cudaStream_t s) {
  checkArgs(a);
  if (head < 0 || head >= a.nHead) throw std::invalid_argument("attentionMap: head out of range");
  if (fast) return attentionMapFast(a, head, out, lse, s);
  Params p = makeParams(a);
  p.headBase = head;
  p.lse = lse;
  // Rows never visited by the second pass (keys after every query of a tile) are causal zeros.
  check(cudaMemsetAsync(out, 0, size_t(a.nQ) * a.nKv * sizeof(float), s), "attentionMap: memset");
  dispatch(p, 1, true, false, s);
  p.map = out;
  dispatch(p, 1, false, true, s);
}

}  // namespace ll::kern::cuda
