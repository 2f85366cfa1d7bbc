// Flash attention with mma.sync. A block of 4 warps owns 64 queries of one head; warp w owns
// rows 16w..16w+15 and keeps, per thread, two rows' softmax state and output in registers in the
// m16n8k16 accumulator layout (thread lane holds rows lane/4 and lane/4 + 8, columns
// 2 (lane % 4) + {0, 1} of every 8-wide tile). S = Q K^T lands in that layout, so after the
// online-softmax update the probabilities are repacked to fp16 as the A operand of P V without
// passing through shared memory. K/V tiles of 64 keys are double-buffered in shared memory by
// cp.async from fp16 copies made once per call (Q pre-scaled by scale * log2 e so the softmax
// runs on exp2).
//
// Statistics: per row m (max), l = sum 2^(s - m), A = sum 2^(s - m) (s - m) in log2 units; each
// thread keeps partial l and A over its columns (the rescale by alpha = 2^(m_old - m_new) is the
// same for the whole row, so partial sums stay consistent) and the quad adds them at the end.
// Entropy = ln l - ln 2 * A / l; lse2 = m + log2 l feeds the second pass, which recomputes
// S^T = K Q^T on tensor cores per key tile (keys as rows, so a column sum is a row sum in
// registers) for the column sums and the last row.
#include <cuda_fp16.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/attention_mma.cuh"
#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/mma_layout.h"

namespace ll::kern::cuda {
namespace {

constexpr int BQ = 64, BK = 64, kThreads = 128;
constexpr int kMinQueries = 32;  // below: decode-sized calls, not worth the fp16 copies
constexpr float kLog2e = 1.4426950408889634f, kLn2 = 0.6931471805599453f;
constexpr unsigned kFull = 0xffffffffu;

struct MParams {
  int nQ, nKv, nHead, nHeadKv;
  const __half *q, *k, *v;  // fp16 copies, same layouts as AttnArgs; q scaled by scale * log2 e
  float *out, *entropy, *lse, *colSum, *lastRow;  // lse in log2 units
  AttnMask mask;       // kernels/attn_rule.h: window, soft-cap, knockout, per-head keep
  const float* sinks;  // [nHead] sink logits (natural units) or nullptr
  bool lastOnly;
};

template <int D>
constexpr size_t forwardSmem() {
  return size_t(BQ + 4 * BK) * (D + 8) * sizeof(__half);  // Q, 2 x K, 2 x V
}
template <int D>
constexpr size_t colSumSmem() {
  return size_t(BK + 2 * BQ) * (D + 8) * sizeof(__half) +
         2 * BQ * sizeof(float);  // K, 2 x Q, 2 x lse
}

__device__ __forceinline__ uint32_t smemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define LL_MMA_OK 1
#else
#define LL_MMA_OK 0
#endif

// 16 bytes global -> shared; zero-filled when !valid (src must still be a mapped address).
__device__ __forceinline__ void cpAsync16(void* dst, const void* src, bool valid) {
#if LL_MMA_OK
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smemAddr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
#endif
}
__device__ __forceinline__ void cpAsyncCommit() {
#if LL_MMA_OK
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
#if LL_MMA_OK
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

__device__ __forceinline__ void ldsm4(uint32_t (&r)[4], const __half* p) {
#if LL_MMA_OK
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smemAddr(p)));
#endif
}
__device__ __forceinline__ void ldsm4T(uint32_t (&r)[4], const __half* p) {
#if LL_MMA_OK
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smemAddr(p)));
#endif
}

// c += a b for one m16n8k16 tile.
__device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                    uint32_t b1) {
#if LL_MMA_OK
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

__device__ __forceinline__ uint32_t packHalf2(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);  // lo in the low 16 bits: the lower column
  return *reinterpret_cast<const uint32_t*>(&h);
}

// 64 rows x D halves of a [rows, stride] matrix into shared memory (row pitch D + 8 halves, so
// the 8 rows an ldmatrix reads fall in distinct banks); rows past `rows` are zero.
template <int D>
__device__ __forceinline__ void loadTile(__half* dst, const __half* src, int row0, int rows,
                                         int stride) {
  constexpr int CH = D / 8, PER = 64 * CH / kThreads;  // 16-byte chunks per row, per thread
  static_assert(PER * kThreads == 64 * CH, "tile split");
#pragma unroll
  for (int it = 0; it < PER; ++it) {
    const int i = threadIdx.x + it * kThreads, r = i / CH, c = i % CH, gr = row0 + r;
    const bool ok = gr < rows;
    cpAsync16(dst + r * (D + 8) + c * 8, src + size_t(ok ? gr : 0) * stride + c * 8, ok);
  }
}

// Query row qi (cache index nKv - nQ + qi) sees key j: the rule of attn_rule.h; rows past nQ
// (padding of the last tile) see nothing.
__device__ __forceinline__ bool visibleM(const MParams& p, int qi, int j, int kvh) {
  return qi < p.nQ && attnVisible(p.mask, p.nKv - p.nQ + qi, j, kvh);
}

// Soft-capped logit in log2 units of a score s2 = log2 e * scale * q.k (Q is pre-scaled):
// log2 e * attnLogit(scale * q.k).
__device__ __forceinline__ float softcap2(const AttnMask& m, float s2) {
  return kLog2e * attnLogit(m, s2, kLn2);
}

template <int D>
__global__ void __launch_bounds__(kThreads) mmaForward(MParams p) {
  constexpr int LD = D + 8, KD = D / 16, ND = D / 8, NK = BK / 8;
  extern __shared__ __align__(128) unsigned char smem[];
  __half* sQ = reinterpret_cast<__half*>(smem);
  __half* sK = sQ + BQ * LD;      // two buffers
  __half* sV = sK + 2 * BK * LD;  // two buffers
  const int h = blockIdx.x, kvh = h / (p.nHead / p.nHeadKv);
  // Later query tiles see more keys: they go first so the short ones fill the tail.
  const int q0 = (gridDim.y - 1 - blockIdx.y) * BQ;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, quad = lane % 4;
  const int r0 = warp * 16 + mma::cRow(lane, 0);  // rows r0 and r0 + 8 (= cRow(lane, 2))
  const int qStride = p.nHead * D, kStride = p.nHeadKv * D, off = p.nKv - p.nQ;
  const int lastQ = min(q0 + BQ, p.nQ) - 1;
  const int nTiles = (off + lastQ) / BK + 1;
  // A sliding window hides the key tiles before the first row's first key.
  const int tFirst = attnFirstKey(p.mask, off + q0) / BK;
  const bool extraMask = attnKeyMasks(p.mask);
  const bool capped = p.mask.softcap > 0.0f;
  const __half* kBase = p.k + size_t(kvh) * D;
  const __half* vBase = p.v + size_t(kvh) * D;

  loadTile<D>(sQ, p.q + size_t(h) * D, q0, p.nQ, qStride);
  loadTile<D>(sK + (tFirst & 1) * BK * LD, kBase, tFirst * BK, p.nKv, kStride);
  loadTile<D>(sV + (tFirst & 1) * BK * LD, vBase, tFirst * BK, p.nKv, kStride);
  cpAsyncCommit();

  uint32_t qf[KD][4];
  float o[ND][4];
#pragma unroll
  for (int n = 0; n < ND; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}, A[2] = {0.0f, 0.0f};

  for (int t = tFirst; t < nTiles; ++t) {
    const int k0 = t * BK;
    if (t + 1 < nTiles) {
      loadTile<D>(sK + ((t + 1) & 1) * BK * LD, kBase, k0 + BK, p.nKv, kStride);
      loadTile<D>(sV + ((t + 1) & 1) * BK * LD, vBase, k0 + BK, p.nKv, kStride);
      cpAsyncCommit();
      cpAsyncWait<1>();
    } else {
      cpAsyncWait<0>();
    }
    __syncthreads();
    if (t == tFirst) {
#pragma unroll
      for (int kk = 0; kk < KD; ++kk)
        ldsm4(qf[kk], sQ + (warp * 16 + mma::aRow(lane)) * LD + kk * 16 + mma::aCol(lane));
    }
    const __half* cK = sK + (t & 1) * BK * LD;
    const __half* cV = sV + (t & 1) * BK * LD;

    float s[NK][4];
#pragma unroll
    for (int n = 0; n < NK; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < KD; ++kk)
#pragma unroll
      for (int np = 0; np < NK / 2; ++np) {
        uint32_t b[4];
        ldsm4(b, cK + (np * 16 + mma::bRow(lane)) * LD + kk * 16 + mma::bCol(lane));
        mma(s[2 * np], qf[kk], b[0], b[1]);
        mma(s[2 * np + 1], qf[kk], b[2], b[3]);
      }

    if (capped) {
#pragma unroll
      for (int n = 0; n < NK; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[n][e] = softcap2(p.mask, s[n][e]);
    }
    // Tiles wholly at or below the first row's diagonal and inside the last row's window, without
    // extra masks, need no test (keys past nKv are past every diagonal, so a tile holding them is
    // tested).
    if (extraMask || !attnTileInside(p.mask, off + q0, off + q0 + BQ - 1, k0, k0 + BK - 1)) {
#pragma unroll
      for (int n = 0; n < NK; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (!visibleM(p, q0 + warp * 16 + mma::cRow(lane, e), k0 + n * 8 + mma::cCol(lane, e),
                        kvh))
            s[n][e] = -INFINITY;
    }

    float alpha[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      float mx = -INFINITY;
#pragma unroll
      for (int n = 0; n < NK; ++n) mx = fmaxf(mx, fmaxf(s[n][2 * i], s[n][2 * i + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(kFull, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(kFull, mx, 2));
      const float mNew = fmaxf(m[i], mx);
      const float mUse = mNew == -INFINITY ? 0.0f : mNew;  // a row with nothing visible yet
      float ps = 0.0f, pa = 0.0f;
#pragma unroll
      for (int n = 0; n < NK; ++n)
#pragma unroll
        for (int e = 2 * i; e < 2 * i + 2; ++e) {
          const float d = fmaxf(s[n][e] - mUse, -1e30f);  // masked: weight 0, finite d
          const float pr = exp2f(d);
          s[n][e] = pr;
          ps += pr;
          pa = fmaf(pr, d, pa);
        }
      alpha[i] = exp2f(m[i] - mUse);  // 0 while m is -inf
      A[i] = (m[i] == -INFINITY ? 0.0f : alpha[i] * fmaf(m[i] - mUse, l[i], A[i])) + pa;
      l[i] = fmaf(alpha[i], l[i], ps);
      m[i] = mNew;
    }
#pragma unroll
    for (int n = 0; n < ND; ++n) {
      o[n][0] *= alpha[0];
      o[n][1] *= alpha[0];
      o[n][2] *= alpha[1];
      o[n][3] *= alpha[1];
    }
    // O += P V: the S accumulators of key tiles 2kk and 2kk + 1 are the A fragment of keys
    // 16kk..16kk+15.
#pragma unroll
    for (int kk = 0; kk < BK / 16; ++kk) {
      uint32_t a[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const float* acc = s[2 * kk + mma::accTile(r)];
        a[r] = packHalf2(acc[mma::accElem(r, 0)], acc[mma::accElem(r, 1)]);
      }
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b[4];
        ldsm4T(b, cV + (kk * 16 + mma::btRow(lane)) * LD + dp * 16 + mma::btCol(lane));
        mma(o[2 * dp], a, b[0], b[1]);
        mma(o[2 * dp + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();  // buffer t & 1 is refilled by the next iteration's prefetch
  }

#pragma unroll
  for (int i = 0; i < 2; ++i) {
    l[i] += __shfl_xor_sync(kFull, l[i], 1);
    l[i] += __shfl_xor_sync(kFull, l[i], 2);
    A[i] += __shfl_xor_sync(kFull, A[i], 1);
    A[i] += __shfl_xor_sync(kFull, A[i], 2);
    const int qi = q0 + r0 + 8 * i;
    if (qi >= p.nQ) continue;
    // The sink joins the denominator only (no value): o scales by alpha, l and A grow (log2
    // units, like the scores).
    const float alpha = p.sinks ? attnJoinSink<true>(p.sinks[h] * kLog2e, m[i], l[i], A[i]) : 1.0f;
    const float inv = alpha / l[i];
    float* orow = p.out + size_t(qi) * qStride + size_t(h) * D + mma::cCol(lane, 0);
#pragma unroll
    for (int n = 0; n < ND; ++n) {
      orow[n * 8] = o[n][2 * i] * inv;
      orow[n * 8 + 1] = o[n][2 * i + 1] * inv;
    }
    if (quad == 0) {
      if (p.entropy) p.entropy[size_t(h) * p.nQ + qi] = fmaxf(logf(l[i]) - kLn2 * A[i] * inv, 0.0f);
      if (p.lse) p.lse[size_t(h) * p.nQ + qi] = m[i] + log2f(l[i]);
    }
  }
}

// Second pass, block = (head, 64 keys): warp w owns keys 16w..16w+15 as the rows of
// S^T = K Q^T over the query tiles that can see them; p = 2^(s - lse2) of the query's row.
template <int D>
__global__ void __launch_bounds__(kThreads) mmaColSum(MParams p) {
  constexpr int LD = D + 8, KD = D / 16, NQ = BQ / 8;
  extern __shared__ __align__(128) unsigned char smem[];
  __half* sK = reinterpret_cast<__half*>(smem);
  __half* sQ = sK + BK * LD;                               // two buffers
  float* sL = reinterpret_cast<float*>(sQ + 2 * BQ * LD);  // two buffers of BQ
  const int h = blockIdx.x, kvh = h / (p.nHead / p.nHeadKv);
  const int k0 = blockIdx.y * BK;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, quad = lane % 4;
  const int j0 = k0 + warp * 16 + mma::cRow(lane, 0);  // keys j0 and j0 + 8
  const int qStride = p.nHead * D, kStride = p.nHeadKv * D, off = p.nKv - p.nQ;
  const bool extraMask = attnKeyMasks(p.mask);
  const bool capped = p.mask.softcap > 0.0f;
  const __half* qBase = p.q + size_t(h) * D;
  const float* lseRow = p.lse + size_t(h) * p.nQ;
  int qStart = p.lastOnly ? p.nQ - 1 : max(0, k0 - off);
  qStart = (qStart / BQ) * BQ;
  // Query rows past the window of the block's last key see none of it.
  const int qEnd = attnLastQuery(p.mask, min(k0 + BK, p.nKv) - 1, p.nKv) - off + 1;
  const int nTiles = max(0, (qEnd - qStart + BQ - 1) / BQ);
  if (p.lastRow && (p.nQ - 1) / BQ * BQ >= qEnd)  // the last row's tile is skipped: all 0
    for (int j = threadIdx.x; j < BK; j += kThreads)
      if (k0 + j < p.nKv) p.lastRow[size_t(h) * p.nKv + k0 + j] = 0.0f;
  if (nTiles == 0) return;  // no query sees these keys: nothing to add

  auto prefetch = [&](int t) {
    const int q0 = qStart + t * BQ, buf = t & 1;
    loadTile<D>(sQ + buf * BQ * LD, qBase, q0, p.nQ, qStride);
    for (int i = threadIdx.x; i < BQ; i += kThreads)
      sL[buf * BQ + i] = q0 + i < p.nQ ? lseRow[q0 + i] : 0.0f;
  };
  loadTile<D>(sK, p.k + size_t(kvh) * D, k0, p.nKv, kStride);
  prefetch(0);
  cpAsyncCommit();

  uint32_t kf[KD][4];
  float cs[2] = {0.0f, 0.0f};
  for (int t = 0; t < nTiles; ++t) {
    const int q0 = qStart + t * BQ;
    if (t + 1 < nTiles) {
      prefetch(t + 1);
      cpAsyncCommit();
      cpAsyncWait<1>();
    } else {
      cpAsyncWait<0>();
    }
    __syncthreads();
    if (t == 0) {
#pragma unroll
      for (int kk = 0; kk < KD; ++kk)
        ldsm4(kf[kk], sK + (warp * 16 + mma::aRow(lane)) * LD + kk * 16 + mma::aCol(lane));
    }
    const __half* cQ = sQ + (t & 1) * BQ * LD;
    const float* cL = sL + (t & 1) * BQ;
    float s[NQ][4];
#pragma unroll
    for (int n = 0; n < NQ; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < KD; ++kk)
#pragma unroll
      for (int np = 0; np < NQ / 2; ++np) {
        uint32_t b[4];
        ldsm4(b, cQ + (np * 16 + mma::bRow(lane)) * LD + kk * 16 + mma::bCol(lane));
        mma(s[2 * np], kf[kk], b[0], b[1]);
        mma(s[2 * np + 1], kf[kk], b[2], b[3]);
      }
    if (capped) {
#pragma unroll
      for (int n = 0; n < NQ; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[n][e] = softcap2(p.mask, s[n][e]);
    }
    // Every query of the tile sees every key of the block: no test (rows past nQ are tested).
    const bool needMask = extraMask || q0 + BQ > p.nQ ||
                          !attnTileInside(p.mask, off + q0, off + q0 + BQ - 1, k0, k0 + BK - 1);
    const bool hasLast = p.lastRow && q0 + BQ >= p.nQ;
#pragma unroll
    for (int n = 0; n < NQ; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int ql = n * 8 + mma::cCol(lane, e), j = k0 + warp * 16 + mma::cRow(lane, e);
        const bool vis = !needMask || visibleM(p, q0 + ql, j, kvh);
        const float pr = vis ? exp2f(s[n][e] - cL[ql]) : 0.0f;
        if (p.colSum) cs[e / 2] += pr;
        if (hasLast && q0 + ql == p.nQ - 1 && j < p.nKv) p.lastRow[size_t(h) * p.nKv + j] = pr;
      }
    __syncthreads();  // buffer t & 1 is refilled by the next iteration's prefetch
  }
  if (!p.colSum) return;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    cs[i] += __shfl_xor_sync(kFull, cs[i], 1);
    cs[i] += __shfl_xor_sync(kFull, cs[i], 2);
    const int j = j0 + 8 * i;
    if (quad == 0 && j < p.nKv) p.colSum[size_t(h) * p.nKv + j] += cs[i];
  }
}

__global__ void toHalf(const float* __restrict__ src, __half* __restrict__ dst, size_t n,
                       float scale) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    dst[i] = __float2half_rn(src[i] * scale);
}

constexpr size_t align256(size_t x) {
  return (x + 255) / 256 * 256;
}

template <int D>
void launch(const MParams& p, cudaStream_t s) {
  constexpr size_t fs = forwardSmem<D>(), cs = colSumSmem<D>();
  check(cudaFuncSetAttribute(mmaForward<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(fs)),
        "attention (mma): smem attribute");
  mmaForward<D><<<dim3(unsigned(p.nHead), unsigned((p.nQ + BQ - 1) / BQ)), kThreads, fs, s>>>(p);
  checkLaunch("attention (mma)");
  if (!p.colSum && !p.lastRow) return;
  check(cudaFuncSetAttribute(mmaColSum<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(cs)),
        "attention (mma): smem attribute");
  mmaColSum<D><<<dim3(unsigned(p.nHead), unsigned((p.nKv + BK - 1) / BK)), kThreads, cs, s>>>(p);
  checkLaunch("attention (mma, column sums)");
}

}  // namespace

bool attentionMmaSupports(const AttnArgs& a) {
  if (a.headDim != 64 && a.headDim != 128) return false;
  if (a.nQ < kMinQueries) return false;
  int dev = 0, major = 0, maxSmem = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&maxSmem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) !=
          cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  const size_t need = a.headDim == 64 ? forwardSmem<64>() : forwardSmem<128>();
  return major >= 8 && need <= size_t(maxSmem);
}

size_t attentionMmaScratchBytes(const AttnArgs& a) {
  const size_t qn = size_t(a.nQ) * a.nHead * a.headDim, kn = size_t(a.nKv) * a.nHeadKv * a.headDim;
  return align256(qn * 2) + 2 * align256(kn * 2);
}

void attentionMma(const AttnArgs& a, float* lse, void* scratch, cudaStream_t s) {
  if ((a.nQ + BQ - 1) / BQ > 65535 || (a.nKv + BK - 1) / BK > 65535)
    throw std::invalid_argument("attention (mma): more than 65535 tiles of 64 rows");
  const size_t qn = size_t(a.nQ) * a.nHead * a.headDim, kn = size_t(a.nKv) * a.nHeadKv * a.headDim;
  auto* base = static_cast<unsigned char*>(scratch);
  auto* qh = reinterpret_cast<__half*>(base);
  auto* kh = reinterpret_cast<__half*>(base + align256(qn * 2));
  auto* vh = reinterpret_cast<__half*>(base + align256(qn * 2) + align256(kn * 2));
  toHalf<<<blocksFor(qn, 256), 256, 0, s>>>(a.q, qh, qn, a.scale * kLog2e);
  toHalf<<<blocksFor(kn, 256), 256, 0, s>>>(a.k, kh, kn, 1.0f);
  toHalf<<<blocksFor(kn, 256), 256, 0, s>>>(a.v, vh, kn, 1.0f);
  checkLaunch("attention (mma): fp16 copies");

  MParams p{};
  p.nQ = a.nQ;
  p.nKv = a.nKv;
  p.nHead = a.nHead;
  p.nHeadKv = a.nHeadKv;
  p.q = qh;
  p.k = kh;
  p.v = vh;
  p.out = a.out;
  p.entropy = a.entropy;
  p.colSum = a.colSum;
  p.lastRow = a.lastRow;
  p.lastOnly = a.colSum == nullptr;
  p.lse = (a.colSum || a.lastRow) ? lse : nullptr;
  if ((a.colSum || a.lastRow) && !lse)
    throw std::invalid_argument("attention (mma): column sums need the lse scratch");
  p.mask = a.mask();
  if (a.headKeepLen <= 0) p.mask.headKeep = nullptr;
  p.sinks = a.sinks;
  if (a.headDim == 64)
    launch<64>(p, s);
  else if (a.headDim == 128)
    launch<128>(p, s);
  else
    throw std::invalid_argument("attention (mma): head dimension " + std::to_string(a.headDim) +
                                " (64 or 128 only)");
}

}  // namespace ll::kern::cuda
