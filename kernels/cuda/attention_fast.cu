// Fast attention: 64 queries x 64 keys per block of 4 warps; warp w owns query rows 16w..16w+15
// for the scores (S = Q K^T with WMMA), their online softmax (two lanes per row, 32 keys each)
// and their output rows (O kept in shared memory as f32 so rows can be rescaled between tiles,
// which WMMA's opaque accumulator layout does not allow in registers). Statistics as in
// attention.cu: m, l, A = sum exp(s - m)(s - m); entropy = ln l - A / l; lse = m + ln l feeds the
// second pass (column sums, last row, map).
#include <cuda_fp16.h>
#include <mma.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda/attention_fast.cuh"
#include "kernels/cuda/cuda_util.cuh"

namespace ll::kern::cuda {
namespace {

using namespace nvcuda;

constexpr int BQ = 64, BK = 64, kThreads = 128;
constexpr int LDS = BK + 4;  // scores (f32)
constexpr int LDP = BK + 8;  // probabilities (f16)

struct FParams {
  int nQ, nKv, nHead, nHeadKv, D, headBase;
  float scale;
  const float *q, *k, *v;
  float *out, *entropy, *lse, *colSum, *lastRow, *map;
  AttnMask mask;       // kernels/attn_rule.h: window, soft-cap, knockout, per-head keep
  const float* sinks;  // [nHead] sink logits or nullptr
  bool lastOnly;
};

constexpr size_t align128(size_t x) {
  return (x + 127) / 128 * 128;
}

template <int DP>
struct Layout {
  static constexpr int LDH = DP + 8;  // f16 tiles
  static constexpr int LDO = DP + 4;  // f32 output
  static constexpr size_t q = 0;
  static constexpr size_t k = align128(q + size_t(BQ) * LDH * 2);
  static constexpr size_t v = align128(k + size_t(BK) * LDH * 2);
  static constexpr size_t s = align128(v + size_t(BK) * LDH * 2);
  static constexpr size_t p = align128(s + size_t(BQ) * LDS * 4);
  static constexpr size_t o = align128(p + size_t(BQ) * LDP * 2);
  static constexpr size_t end = align128(o + size_t(BQ) * LDO * 4);
  // second pass: K tile, Q tile, scores, lse
  static constexpr size_t p2k = 0;
  static constexpr size_t p2q = align128(size_t(BK) * LDH * 2);
  static constexpr size_t p2s = align128(p2q + size_t(BQ) * LDH * 2);
  static constexpr size_t p2l = align128(p2s + size_t(BQ) * LDS * 4);
  static constexpr size_t p2end = align128(p2l + BQ * 4);
};

// 64 rows x DP columns as fp16 (zero past D and past `rows`); loads batched as in attention.cu.
template <int DP>
__device__ __forceinline__ void loadHalf(__half* dst, const float* __restrict__ src, int row0,
                                         int rows, int stride, int D) {
  constexpr int LDH = DP + 8, PER = 64 * DP / kThreads, BATCH = 16;
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
      dst[(idx / DP) * LDH + idx % DP] = __float2half_rn(v[i]);
    }
  }
}

// Query row qi (cache index nKv - nQ + qi) sees key j: the rule of attn_rule.h; rows past nQ
// (padding of the last tile) see nothing.
__device__ __forceinline__ bool visibleF(const FParams& p, int qi, int j, int kvh) {
  return qi < p.nQ && attnVisible(p.mask, p.nKv - p.nQ + qi, j, kvh);
}

// End of the query rows that see any key of the tile at k0 (rows past the window of its last key
// see none). Recomputed where used rather than kept live: the second pass is short of registers.
__device__ __forceinline__ int queryRowsEnd(const FParams& p, int k0) {
  return attnLastQuery(p.mask, min(k0 + BK, p.nKv) - 1, p.nKv) - (p.nKv - p.nQ) + 1;
}

// sS[16w.., 0..63] = Q rows of warp w times the K tile (unscaled).
template <int DP>
__device__ __forceinline__ void warpScores(const __half* sQ, const __half* sK, float* sS,
                                           int warp) {
  constexpr int LDH = DP + 8;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> c[BK / 16];
#pragma unroll
  for (int n = 0; n < BK / 16; ++n) wmma::fill_fragment(c[n], 0.0f);
#pragma unroll
  for (int kk = 0; kk < DP / 16; ++kk) {
    wmma::load_matrix_sync(a, sQ + warp * 16 * LDH + kk * 16, LDH);
#pragma unroll
    for (int n = 0; n < BK / 16; ++n) {
      wmma::load_matrix_sync(b, sK + n * 16 * LDH + kk * 16, LDH);
      wmma::mma_sync(c[n], a, b, c[n]);
    }
  }
#pragma unroll
  for (int n = 0; n < BK / 16; ++n)
    wmma::store_matrix_sync(sS + warp * 16 * LDS + n * 16, c[n], LDS, wmma::mem_row_major);
}

template <int DP>
__global__ void __launch_bounds__(kThreads) fastForward(FParams p) {
  extern __shared__ __align__(128) unsigned char smem[];
  using L = Layout<DP>;
  constexpr int LDH = L::LDH, LDO = L::LDO;
  __half* sQ = reinterpret_cast<__half*>(smem + L::q);
  __half* sK = reinterpret_cast<__half*>(smem + L::k);
  __half* sV = reinterpret_cast<__half*>(smem + L::v);
  float* sS = reinterpret_cast<float*>(smem + L::s);
  __half* sP = reinterpret_cast<__half*>(smem + L::p);
  float* sO = reinterpret_cast<float*>(smem + L::o);
  const int h = p.headBase + blockIdx.y, kvh = h / (p.nHead / p.nHeadKv);
  // Later query tiles see more keys: launch them first so the short ones fill the tail.
  const int q0 = (gridDim.x - 1 - blockIdx.x) * BQ;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = warp * 16 + lane / 2, half = lane % 2;  // this lane: keys / dims of one half
  const int qi = q0 + row;
  const int qStride = p.nHead * p.D, kStride = p.nHeadKv * p.D;
  const bool needOut = p.out != nullptr;

  loadHalf<DP>(sQ, p.q + size_t(h) * p.D, q0, p.nQ, qStride, p.D);
  for (int i = threadIdx.x; i < BQ * LDO; i += kThreads) sO[i] = 0.0f;
  float m = -INFINITY, l = 0.0f, A = 0.0f;
  const int off = p.nKv - p.nQ;
  const int lastQ = min(q0 + BQ, p.nQ) - 1;
  const int keyEnd = off + lastQ + 1;
  // A sliding window hides the key tiles before the first row's first key.
  const int keyBegin = attnFirstKey(p.mask, off + q0) / BK * BK;
  for (int k0 = keyBegin; k0 < keyEnd; k0 += BK) {
    __syncthreads();  // every warp is done with the previous K/V tiles
    loadHalf<DP>(sK, p.k + size_t(kvh) * p.D, k0, p.nKv, kStride, p.D);
    if (needOut) loadHalf<DP>(sV, p.v + size_t(kvh) * p.D, k0, p.nKv, kStride, p.D);
    __syncthreads();
    warpScores<DP>(sQ, sK, sS, warp);
    __syncwarp();
    float* srow = sS + row * LDS + half * 32;
    // Tiles wholly inside every row's causal/window range, without knockout or eviction, skip
    // the per-element mask.
    const bool full = !attnKeyMasks(p.mask) && q0 + BQ <= p.nQ &&
                      attnTileInside(p.mask, off + q0, off + q0 + BQ - 1, k0, k0 + BK - 1);
    float mx = -INFINITY;
#pragma unroll 8
    for (int c = 0; c < 32; ++c) {
      const float s = (full || visibleF(p, qi, k0 + half * 32 + c, kvh))
                          ? attnLogit(p.mask, srow[c], p.scale)
                          : -INFINITY;
      srow[c] = s;
      mx = fmaxf(mx, s);
    }
    const float mNew = fmaxf(m, fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1)));
    float ps = 0.0f, pa = 0.0f;
    __half* prow = sP + row * LDP + half * 32;
#pragma unroll 8
    for (int c = 0; c < 32; ++c) {
      const float s = srow[c];
      float e = 0.0f;
      if (s != -INFINITY) {
        e = __expf(s - mNew);  // P is rounded to fp16 next; __expf's 2 ulp do not show
        ps += e;
        pa += e * (s - mNew);
      }
      prow[c] = __float2half_rn(e);
    }
    ps += __shfl_xor_sync(0xffffffffu, ps, 1);
    pa += __shfl_xor_sync(0xffffffffu, pa, 1);
    float alpha = 1.0f;
    if (mNew != -INFINITY) {
      alpha = expf(m - mNew);
      A = (l > 0.0f ? alpha * (A + (m - mNew) * l) : 0.0f) + pa;
      l = alpha * l + ps;
      m = mNew;
    }
    if (!needOut) continue;
    float* orow = sO + row * LDO + half * (DP / 2);
    if (alpha != 1.0f)
      for (int c = 0; c < DP / 2; ++c) orow[c] *= alpha;
    __syncwarp();
    // O rows of this warp += P V
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
#pragma unroll
    for (int n = 0; n < DP / 16; ++n) {
      wmma::load_matrix_sync(c, sO + warp * 16 * LDO + n * 16, LDO, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < BK / 16; ++kk) {
        wmma::load_matrix_sync(a, sP + warp * 16 * LDP + kk * 16, LDP);
        wmma::load_matrix_sync(b, sV + kk * 16 * LDH + n * 16, LDH);
        wmma::mma_sync(c, a, b, c);
      }
      wmma::store_matrix_sync(sO + warp * 16 * LDO + n * 16, c, LDO, wmma::mem_row_major);
    }
    __syncwarp();
  }
  if (qi >= p.nQ) return;
  // The sink joins the denominator only (no value): O scales by alpha, l and A grow.
  const float alpha = p.sinks ? attnJoinSink(p.sinks[h], m, l, A) : 1.0f;
  const float inv = alpha / l;
  if (needOut) {
    float* orow = p.out + size_t(qi) * qStride + size_t(h) * p.D;
    const float* srcRow = sO + row * LDO;
    for (int d = half; d < p.D; d += 2) orow[d] = srcRow[d] * inv;
  }
  if (half == 0) {
    const float lnl = logf(l);
    if (p.entropy) p.entropy[size_t(h) * p.nQ + qi] = fmaxf(lnl - A * inv, 0.0f);
    if (p.lse) p.lse[size_t(blockIdx.y) * p.nQ + qi] = m + lnl;
  }
}

template <int DP>
__global__ void __launch_bounds__(kThreads) fastProbs(FParams p) {
  extern __shared__ __align__(128) unsigned char smem[];
  using L = Layout<DP>;
  __half* sK = reinterpret_cast<__half*>(smem + L::p2k);
  __half* sQ = reinterpret_cast<__half*>(smem + L::p2q);
  float* sS = reinterpret_cast<float*>(smem + L::p2s);
  float* sL = reinterpret_cast<float*>(smem + L::p2l);
  const int hl = blockIdx.y, h = p.headBase + hl, kvh = h / (p.nHead / p.nHeadKv);
  const int k0 = blockIdx.x * BK;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = warp * 16 + lane / 2, half = lane % 2;
  const int qStride = p.nHead * p.D, kStride = p.nHeadKv * p.D, off = p.nKv - p.nQ;

  loadHalf<DP>(sK, p.k + size_t(kvh) * p.D, k0, p.nKv, kStride, p.D);
  float colAcc = 0.0f;  // thread t < BK owns key k0 + t
  int qStart = p.lastOnly ? p.nQ - 1 : max(0, k0 - off);
  qStart = (qStart / BQ) * BQ;
  for (int q0 = qStart; q0 < queryRowsEnd(p, k0); q0 += BQ) {
    __syncthreads();
    loadHalf<DP>(sQ, p.q + size_t(h) * p.D, q0, p.nQ, qStride, p.D);
    for (int i = threadIdx.x; i < BQ; i += kThreads)
      sL[i] = q0 + i < p.nQ ? p.lse[size_t(hl) * p.nQ + q0 + i] : 0.0f;
    __syncthreads();
    warpScores<DP>(sQ, sK, sS, warp);
    __syncwarp();
    const int qi = q0 + row;
    const float lse = sL[row];
    float* srow = sS + row * LDS + half * 32;
    for (int c = 0; c < 32; ++c) {
      const int j = k0 + half * 32 + c;
      const float pr =
          visibleF(p, qi, j, kvh) ? expf(attnLogit(p.mask, srow[c], p.scale) - lse) : 0.0f;
      srow[c] = pr;
      if (qi < p.nQ && j < p.nKv) {
        if (p.map) p.map[size_t(qi) * p.nKv + j] = pr;
        if (p.lastRow && qi == p.nQ - 1) p.lastRow[size_t(h) * p.nKv + j] = pr;
      }
    }
    if (!p.colSum) continue;
    __syncthreads();
    if (threadIdx.x < BK)
      for (int r = 0; r < BQ; ++r) colAcc += sS[r * LDS + threadIdx.x];
  }
  if (p.colSum && threadIdx.x < BK && k0 + int(threadIdx.x) < p.nKv)
    p.colSum[size_t(h) * p.nKv + k0 + threadIdx.x] += colAcc;
  if (p.lastRow && (p.nQ - 1) / BQ * BQ >= queryRowsEnd(p, k0) && threadIdx.x < BK &&
      k0 + int(threadIdx.x) < p.nKv)  // the last row's tile was skipped: all 0
    p.lastRow[size_t(h) * p.nKv + k0 + threadIdx.x] = 0.0f;
}

template <int DP>
void launchFast(const FParams& p, int nHeads, bool forward, bool probs, cudaStream_t s) {
  using L = Layout<DP>;
  int dev = 0, maxSmem = 0;
  check(cudaGetDevice(&dev), "attention: cudaGetDevice");
  check(cudaDeviceGetAttribute(&maxSmem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev),
        "attention: attribute");
  if (L::end > size_t(maxSmem))
    throw std::runtime_error("CUDA attention (fast): head dimension " + std::to_string(p.D) +
                             " needs " + std::to_string(L::end) +
                             " bytes of shared memory; this GPU allows " + std::to_string(maxSmem));
  if (forward) {
    check(cudaFuncSetAttribute(fastForward<DP>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(L::end)),
          "attention: smem attribute");
    fastForward<DP>
        <<<dim3(unsigned((p.nQ + BQ - 1) / BQ), unsigned(nHeads)), kThreads, L::end, s>>>(p);
    checkLaunch("attention (fast)");
  }
  if (probs) {
    check(cudaFuncSetAttribute(fastProbs<DP>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(L::p2end)),
          "attention: smem attribute");
    fastProbs<DP>
        <<<dim3(unsigned((p.nKv + BK - 1) / BK), unsigned(nHeads)), kThreads, L::p2end, s>>>(p);
    checkLaunch("attention (fast, probabilities)");
  }
}

void dispatchFast(const FParams& p, int nHeads, bool forward, bool probs, cudaStream_t s) {
  if (p.D <= 32)
    launchFast<32>(p, nHeads, forward, probs, s);
  else if (p.D <= 64)
    launchFast<64>(p, nHeads, forward, probs, s);
  else if (p.D <= 128)
    launchFast<128>(p, nHeads, forward, probs, s);
  else if (p.D <= 256)
    launchFast<256>(p, nHeads, forward, probs, s);
  else
    throw std::runtime_error("CUDA attention: head dimension " + std::to_string(p.D) +
                             " above 256");
}

FParams makeFParams(const AttnArgs& a) {
  FParams p{};
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
  if (a.headKeepLen <= 0) p.mask.headKeep = nullptr;
  p.sinks = a.sinks;
  return p;
}

}  // namespace

void attentionFast(const AttnArgs& a, float* lse, cudaStream_t s) {
  FParams p = makeFParams(a);
  p.out = a.out;
  p.entropy = a.entropy;
  const bool probs = a.colSum || a.lastRow;
  p.lse = probs ? lse : nullptr;
  dispatchFast(p, a.nHead, true, false, s);
  if (!probs) return;
  p.colSum = a.colSum;
  p.lastRow = a.lastRow;
  p.lastOnly = a.colSum == nullptr;
  dispatchFast(p, a.nHead, false, true, s);
}

void attentionMapFast(const AttnArgs& a, int head, float* out, float* lse, cudaStream_t s) {
  FParams p = makeFParams(a);
  p.headBase = head;
  p.lse = lse;
  check(cudaMemsetAsync(out, 0, size_t(a.nQ) * a.nKv * sizeof(float), s), "attentionMap: memset");
  dispatchFast(p, 1, true, false, s);
  p.map = out;
  dispatchFast(p, 1, false, true, s);
}

}  // namespace ll::kern::cuda
