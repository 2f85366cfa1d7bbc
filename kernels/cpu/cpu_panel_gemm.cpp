// The precise AVX-512 f32 GEMM (cpu_panel_gemm.h) and its scalar reference. Per block of
// kPanelDepth columns the panel's weight rows are dequantized 32 at a time into an L1-sized buffer
// and transposed into the kernel's layout ([kc][32]: one k step is two aligned loads), then every
// 12-row block of packed activations runs against every 32-row strip.
#include "kernels/cpu/cpu_panel_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_dequant.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_sgemm.h"
#include "kernels/cpu/fast_transpose.h"
#include "kernels/cpu/scratch.h"
#include "kernels/quant.h"

// GCC 12 bug 105593: false "__Y is used uninitialized" inside avx512fintrin.h (fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define LL_PANEL_TARGET __attribute__((target("avx512f,f16c")))

namespace ll::kern {
namespace {

constexpr int kMr = kPanelTileRows, kNr = kPanelTileCols, kKc = kPanelDepth;

// The unit's per-thread buffers: threadScratch slots its callers leave free (scratch.h).
constexpr int kPackedSlot = 3, kRowsSlot = 4;

// Columns [k0, k0 + kc) of weight rows [r, r + count) as f32, row-major with row stride kKc.
void dequantizeBlock(const CpuWeight& w, int64_t r, int count, int64_t k0, int kc, float* dst) {
  const size_t offset = rowBytes(w.type, k0);  // k0 is a multiple of every block size
  for (int j = 0; j < count; ++j)
    cpuDequantizeRow(w.type, w.rowPtr(r + j) + offset, dst + size_t(j) * kKc, kc);
}

// Transposes a 16 x 16 block held in registers (fast_transpose.h, on floats): afterwards r[k]
// holds column k of the rows that r[0..15] held.
LL_PANEL_TARGET inline void transposeRegs(__m512 r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; ++i) t[i] = _mm512_castps_si512(r[i]);
  fast::transpose16x16(t);
  for (int i = 0; i < 16; ++i) r[i] = _mm512_castsi512_ps(t[i]);
}

// dst[k * dstStride + j] = src[j * srcStride + k] for a 16 x 16 block.
LL_PANEL_TARGET void transpose16(const float* src, int64_t srcStride, float* dst,
                                 int64_t dstStride) {
  __m512 r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * srcStride);
  transposeRegs(r);
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * dstStride, r[i]);
}

// Transposes 16 rows of 16 bytes: afterwards x[c] holds byte c of every row (row i in byte i).
// Four rounds of 128-bit unpacks (one cheap uop each), where a float transpose would take 96
// 512-bit shuffles for the same 16 x 16 block.
LL_PANEL_TARGET inline void transposeBytes(__m128i x[16]) {
  __m128i lo[8], hi[8], t2[4][4], t3[2][8];
  for (int p = 0; p < 8; ++p) {  // 16-bit units: rows 2p, 2p + 1 at one k (k 0-7 / 8-15)
    lo[p] = _mm_unpacklo_epi8(x[2 * p], x[2 * p + 1]);
    hi[p] = _mm_unpackhi_epi8(x[2 * p], x[2 * p + 1]);
  }
  for (int q = 0; q < 4; ++q) {  // 32-bit units: rows 4q .. 4q + 3 at one k; k group g of 4
    t2[q][0] = _mm_unpacklo_epi16(lo[2 * q], lo[2 * q + 1]);
    t2[q][1] = _mm_unpackhi_epi16(lo[2 * q], lo[2 * q + 1]);
    t2[q][2] = _mm_unpacklo_epi16(hi[2 * q], hi[2 * q + 1]);
    t2[q][3] = _mm_unpackhi_epi16(hi[2 * q], hi[2 * q + 1]);
  }
  for (int u = 0; u < 2; ++u)  // 64-bit units: rows 8u .. 8u + 7 at k = 2pp, 2pp + 1
    for (int g = 0; g < 4; ++g) {
      t3[u][2 * g] = _mm_unpacklo_epi32(t2[2 * u][g], t2[2 * u + 1][g]);
      t3[u][2 * g + 1] = _mm_unpackhi_epi32(t2[2 * u][g], t2[2 * u + 1][g]);
    }
  for (int pp = 0; pp < 8; ++pp) {
    x[2 * pp] = _mm_unpacklo_epi64(t3[0][pp], t3[1][pp]);
    x[2 * pp + 1] = _mm_unpackhi_epi64(t3[0][pp], t3[1][pp]);
  }
}

// A full 32-row strip of Q8_0 or F16 weight columns [k0, k0 + kc) (kc a multiple of 16) decoded
// straight into the strip, without the row-major buffer the other types go through. Q8_0: the
// int8 values are transposed as bytes, then each column (16 rows) is converted and multiplied by
// the 16 rows' block scales; F16: 16 rows converted, transposed in registers. Each value is the
// same float as cpuDequantizeRow's (Q8_0: float(q) * d, one rounding; F16: the exact
// conversion), so the strip is bit-identical to the generic path's.
LL_PANEL_TARGET void packStripDirect(const CpuWeight& w, int64_t r, int64_t k0, int kc,
                                     float* strip) {
  if (w.type == QType::Q8_0) {
    for (int h = 0; h < kNr; h += 16)
      for (int k = 0; k < kc; k += 32) {  // one Q8_0 block of each row (k0, kc: multiples of 32)
        const uint8_t* blk[16];
        alignas(32) uint16_t d[16];
        for (int i = 0; i < 16; ++i) {
          blk[i] = w.rowPtr(r + h + i) + size_t((k0 + k) / 32) * 34;
          std::memcpy(&d[i], blk[i], 2);
        }
        const __m512 scale =
            _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(d)));
        for (int half = 0; half < 32; half += 16) {
          __m128i x[16];
          for (int i = 0; i < 16; ++i)
            x[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[i] + 2 + half));
          transposeBytes(x);
          for (int c = 0; c < 16; ++c)
            _mm512_store_ps(strip + size_t(k + half + c) * kNr + h,
                            _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(x[c])), scale));
        }
      }
    return;
  }
  __m512 v[16];
  for (int h = 0; h < kNr; h += 16)
    for (int k = 0; k < kc; k += 16) {
      for (int i = 0; i < 16; ++i)
        v[i] = _mm512_cvtph_ps(_mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(w.rowPtr(r + h + i) + size_t(k0 + k) * 2)));
      transposeRegs(v);
      for (int c = 0; c < 16; ++c) _mm512_store_ps(strip + size_t(k + c) * kNr + h, v[c]);
    }
}

// Rows [r0, r0 + count) x columns [k0, k0 + kc) of w into strips [ceil(count / 32)][kc][32],
// rows past count zero.
LL_PANEL_TARGET void packWeights(const CpuWeight& w, int64_t r0, int64_t count, int64_t k0, int kc,
                                 float* bp) {
  float* tmp = threadScratch(size_t(kNr) * kKc, kRowsSlot);
  const int kc16 = kc / 16 * 16;
  for (int64_t s = 0; s < count; s += kNr) {
    const int rowsHere = int(std::min<int64_t>(kNr, count - s));
    float* strip = bp + size_t(s) * kc;
    if ((w.type == QType::Q8_0 || w.type == QType::F16) && rowsHere == kNr && kc % 16 == 0) {
      packStripDirect(w, r0 + s, k0, kc, strip);
      continue;
    }
    const float* src;
    int64_t srcStride;
    if (w.type == QType::F32 && rowsHere == kNr) {
      src = reinterpret_cast<const float*>(w.rowPtr(r0 + s)) + k0;
      srcStride = int64_t(w.rowBytes / sizeof(float));
    } else {
      if (w.type == QType::F32) {
        for (int j = 0; j < rowsHere; ++j)
          std::memcpy(tmp + size_t(j) * kKc,
                      reinterpret_cast<const float*>(w.rowPtr(r0 + s + j)) + k0,
                      size_t(kc) * sizeof(float));
      } else {
        dequantizeBlock(w, r0 + s, rowsHere, k0, kc, tmp);
      }
      for (int j = rowsHere; j < kNr; ++j) std::memset(tmp + size_t(j) * kKc, 0, kKc * 4);
      src = tmp;
      srcStride = kKc;
    }
    for (int k = 0; k < kc16; k += 16)
      for (int h = 0; h < kNr; h += 16)
        transpose16(src + h * srcStride + k, srcStride, strip + size_t(k) * kNr + h, kNr);
    for (int k = kc16; k < kc; ++k)
      for (int j = 0; j < kNr; ++j) strip[size_t(k) * kNr + j] = src[j * srcStride + k];
  }
}

// acc += b * a[0] in every lane, with a[0] broadcast by the FMA's own memory operand
// (vfmadd231ps m32{1to16}). GCC loads each broadcast into a register first when a value feeds two
// FMAs (vbroadcastss + two FMAs); on Zen 4 that form ran the tile 0-2% slower. The product and its
// one rounding are those of _mm512_fmadd_ps(set1(a[0]), b, acc): the bits do not change.
LL_PANEL_TARGET inline void fmaBroadcast(__m512& acc, __m512 b, const float* a) {
  asm("vfmadd231ps %[a]%{1to16%}, %[b], %[acc]" : [acc] "+v"(acc) : [b] "v"(b), [a] "m"(*a));
}

// The k loop of a tile: acc{0,1}[i] += a[k][i] * b[k][0 .. 32) for k < kc, in k order. With
// kPrefetch, step k also prefetches next + k * kMr: the packed activations the next tile call
// reads at the same step, so a new row block's 12 KiB (from L3 on the large products) arrive in
// L1 during the previous tile instead of stalling the first strip (1-7% of the tiles' time on the
// engine's products, most on the 5632-column one; tests/bench/RESULTS.md).
template <int M, bool kPrefetch>
LL_PANEL_TARGET inline __attribute__((always_inline)) void tileLoop(
    int kc, const float* __restrict a, const float* __restrict b, const float* next,
    __m512 (&acc0)[M], __m512 (&acc1)[M]) {
  for (int k = 0; k < kc; ++k) {
    if constexpr (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(next), _MM_HINT_T0);
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      fmaBroadcast(acc0[i], b0, a + i);
      fmaBroadcast(acc1[i], b1, a + i);
    }
    a += kMr;
    b += kNr;
    if constexpr (kPrefetch) next += kMr;
  }
}

// c[i, 0 .. cols) (+)= sum over k of a[k][i] * b[k][0 .. 32) for i < M: one FMA chain per output,
// from zero, then added to c when accumulating (the block order of cpu_panel_gemm.h). next: the
// activations of the next tile call to prefetch, or null when the next call reads these same ones.
template <int M>
LL_PANEL_TARGET void tile(int kc, const float* __restrict a, const float* __restrict b,
                          const float* next, float* c, int64_t ldc, int cols, bool accumulate) {
  // Every loop over the accumulators is unrolled, so GCC keeps them in registers throughout:
  // otherwise its loop distribution zeroes a dead stack copy with two memset calls (1.5 KiB per
  // call, ~1% of a prefill, seen in perf) and the write-back loop spills all of them to the stack
  // and reloads them (2-4% of the tile's time on Zen 4).
  __m512 acc0[M], acc1[M];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    acc0[i] = _mm512_setzero_ps();
    acc1[i] = _mm512_setzero_ps();
  }
  if (next)
    tileLoop<M, true>(kc, a, b, next, acc0, acc1);
  else
    tileLoop<M, false>(kc, a, b, nullptr, acc0, acc1);
  if (cols == kNr) {
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      float* ci = c + i * ldc;
      if (accumulate) {
        acc0[i] = _mm512_add_ps(acc0[i], _mm512_loadu_ps(ci));
        acc1[i] = _mm512_add_ps(acc1[i], _mm512_loadu_ps(ci + 16));
      }
      _mm512_storeu_ps(ci, acc0[i]);
      _mm512_storeu_ps(ci + 16, acc1[i]);
    }
    return;
  }
  const __mmask16 m0 = cols >= 16 ? __mmask16(0xffff) : __mmask16((1u << cols) - 1);
  const __mmask16 m1 = cols <= 16 ? __mmask16(0) : __mmask16((1u << (cols - 16)) - 1);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    float* ci = c + i * ldc;
    if (accumulate) {
      acc0[i] = _mm512_add_ps(acc0[i], _mm512_maskz_loadu_ps(m0, ci));
      acc1[i] = _mm512_add_ps(acc1[i], _mm512_maskz_loadu_ps(m1, ci + 16));
    }
    _mm512_mask_storeu_ps(ci, m0, acc0[i]);
    _mm512_mask_storeu_ps(ci + 16, m1, acc1[i]);
  }
}

using TileFn = void (*)(int, const float*, const float*, const float*, float*, int64_t, int, bool);

template <int... Ms>
constexpr auto tileTable(std::integer_sequence<int, Ms...>) {
  return std::array<TileFn, sizeof...(Ms)>{&tile<Ms + 1>...};
}
constexpr auto kTiles = tileTable(std::make_integer_sequence<int, kMr>{});

}  // namespace

bool panelGemmAvailable() {
  static const bool ok = [] {
    const char* env = std::getenv("LAYERLENS_CPU_GEMM");
    return detectedCpuFeatures().avx512f && !(env && std::string(env) == "library");
  }();
  return ok;
}

std::string cpuGemmName() {
  return panelGemmAvailable() ? "AVX-512 panel GEMM" : sgemmLibrary();
}

size_t packedRowsFloats(int n, int64_t cols) {
  return size_t(packedRowBlocks(n)) * kMr * size_t(cols);
}

LL_PANEL_TARGET void packRows(int n, int64_t cols, const float* x, float* xp, int64_t b0,
                              int64_t b1) {
  alignas(64) float zeros[16] = {}, block[16 * 16];
  const int64_t cols16 = cols / 16 * 16;
  for (int64_t b = b0; b < b1; ++b) {
    float* dst = xp + size_t(b) * kMr * cols;
    const int rowsHere = int(std::min<int64_t>(kMr, n - b * kMr));
    const float* src = x + size_t(b) * kMr * cols;
    // 16 columns of the block's rows at a time through a 16 x 16 transpose (rows 12-15 and the
    // rows past n are zeros); the ragged last columns one by one.
    for (int64_t k = 0; k < cols16; k += 16) {
      alignas(64) float rows[16 * 16];
      for (int i = 0; i < 16; ++i)
        std::memcpy(rows + i * 16, i < rowsHere ? src + size_t(i) * cols + k : zeros,
                    16 * sizeof(float));
      transpose16(rows, 16, block, 16);
      for (int j = 0; j < 16; ++j)
        std::memcpy(dst + size_t(k + j) * kMr, block + j * 16, kMr * sizeof(float));
    }
    for (int64_t k = cols16; k < cols; ++k)
      for (int i = 0; i < kMr; ++i)
        dst[size_t(k) * kMr + i] = i < rowsHere ? src[size_t(i) * cols + k] : 0.0f;
  }
}

size_t packedPanelFloats(int64_t count) {
  return size_t((count + kNr - 1) / kNr) * kNr * kKc;
}

void packPanel(const CpuWeight& w, int64_t r0, int64_t count, int64_t k0, float* bp) {
  packWeights(w, r0, count, k0, int(std::min<int64_t>(kKc, w.cols - k0)), bp);
}

void panelTiles(const float* xp, int n, int64_t cols, const float* bp, int64_t count, int64_t k0,
                float* y, int64_t ldy) {
  const int kc = int(std::min<int64_t>(kKc, cols - k0));
  const int64_t strips = (count + kNr - 1) / kNr, blocks = packedRowBlocks(n);
  for (int64_t b = 0; b < blocks; ++b) {
    const int m = int(std::min<int64_t>(kMr, n - b * kMr));
    const float* a = xp + (size_t(b) * cols + k0) * kMr;
    // The last strip's tile prefetches the next row block's activations (tileLoop).
    const float* next = b + 1 < blocks ? a + size_t(cols) * kMr : nullptr;
    for (int64_t s = 0; s < strips; ++s)
      kTiles[size_t(m - 1)](kc, a, bp + size_t(s) * kNr * kc, s + 1 == strips ? next : nullptr,
                            y + b * kMr * ldy + s * kNr, ldy,
                            int(std::min<int64_t>(kNr, count - s * kNr)), k0 > 0);
  }
}

void panelGemm(const float* xp, int n, const CpuWeight& w, int64_t r0, int64_t count, float* y,
               int64_t ldy) {
  if (!panelGemmAvailable()) throw std::logic_error("panelGemm: the CPU has no AVX-512F");
  float* bp = threadScratch(packedPanelFloats(count), kPackedSlot);
  for (int64_t k0 = 0; k0 < w.cols; k0 += kKc) {
    packPanel(w, r0, count, k0, bp);
    panelTiles(xp, n, w.cols, bp, count, k0, y, ldy);
  }
}

void panelGemmReference(const float* x, int n, const CpuWeight& w, int64_t r0, int64_t count,
                        float* y, int64_t ldy) {
  const int64_t cols = w.cols;
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t j = 0; j < count; ++j) {
    if (w.type == QType::F32)
      std::memcpy(row.data(), w.rowPtr(r0 + j), size_t(cols) * sizeof(float));
    else
      dequantizeRow(w.type, w.rowPtr(r0 + j), row.data(), cols);
    for (int i = 0; i < n; ++i) {
      const float* xi = x + size_t(i) * cols;
      float total = 0.0f;
      for (int64_t k0 = 0; k0 < cols; k0 += kKc) {
        float acc = 0.0f;
        for (int64_t k = k0; k < std::min<int64_t>(cols, k0 + kKc); ++k)
          acc = std::fmaf(xi[k], row[size_t(k)], acc);
        total = k0 == 0 ? acc : total + acc;
      }
      y[size_t(i) * ldy + j] = total;
    }
  }
}

}  // namespace ll::kern
