// Fast math mode, quantized weights: activations quantized per 32-block to int8, int8 dot
// products (AVX512_VNNI vpdpbusd) with f32 accumulation of the group scales (and mins),
// register-tiled over activation rows and weight strips, plus the scalar reference.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_transpose.h"
#include "kernels/quant.h"

// Compiled for AVX-512 with VNNI whatever the build's -march: the caller checks the CPU first.
#define LL_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

namespace ll::kern::fast {
namespace {

constexpr int kQuads = kQBlock / 4;  // vpdpbusd steps per block

// fp16 -> f32 in hardware: exact, the same value as fp16ToFp32 (tested over every half).
LL_VNNI_TARGET float halfToFloat(uint16_t h) {
  return _mm512_cvtss_f32(_mm512_cvtph_ps(_mm256_castsi128_si256(_mm_cvtsi32_si128(int(h)))));
}

LL_VNNI_TARGET float weightScale(QType type, const uint8_t* row, int64_t b) {
  uint16_t h;
  std::memcpy(&h, row + size_t(b) * (type == QType::Q8_0 ? 34 : 18), 2);
  return halfToFloat(h);
}

// MR activation rows x NS strips. Per group of G weights (G = 16 or 32, kSub groups per block):
// integer dot products seeded with -corr, then one f32 FMA with d_x * d_g and, with mins, one
// with xsum_g * m_g. The order per output lane does not depend on MR or NS.
template <int MR, int NS, int G, bool kMin>
LL_VNNI_TARGET void int8Tile(const Int8Act& a, int64_t blocks, const uint8_t* strips,
                             size_t stripBytes, float* y, int64_t ldy, int64_t cols) {
  constexpr int kSub = kQBlock / G, kGroupQuads = G / 4;
  const int64_t qStride = blocks * kQBlock, groups = blocks * kSub;
  const float* scaleBase[NS];
  const float* minBase[NS];
#pragma GCC unroll 4
  for (int s = 0; s < NS; ++s) {
    scaleBase[s] =
        reinterpret_cast<const float*>(strips + s * stripBytes + size_t(blocks) * kQBlock * kStrip);
    minBase[s] = scaleBase[s] + groups * kStrip;
  }
  __m512 facc[MR][NS];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int s = 0; s < NS; ++s) facc[i][s] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const int8_t* xq = a.q + b * kQBlock;
#pragma GCC unroll 2
    for (int h = 0; h < kSub; ++h) {
      const int64_t g = b * kSub + h;
      __m512i acc[MR][NS];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512i init = _mm512_set1_epi32(-a.corr[i * groups + g]);
#pragma GCC unroll 4
        for (int s = 0; s < NS; ++s) acc[i][s] = init;
      }
#pragma GCC unroll 8
      for (int q = h * kGroupQuads; q < (h + 1) * kGroupQuads; ++q) {
        __m512i w[NS];
#pragma GCC unroll 4
        for (int s = 0; s < NS; ++s)
          w[s] = _mm512_loadu_si512(strips + s * stripBytes + (b * kQuads + q) * 64);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
          int32_t quad;
          std::memcpy(&quad, xq + i * qStride + q * 4, 4);
          const __m512i x = _mm512_set1_epi32(quad);
#pragma GCC unroll 4
          for (int s = 0; s < NS; ++s) acc[i][s] = _mm512_dpbusd_epi32(acc[i][s], w[s], x);
        }
      }
      __m512 sw[NS];
#pragma GCC unroll 4
      for (int s = 0; s < NS; ++s) sw[s] = _mm512_loadu_ps(scaleBase[s] + g * kStrip);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512 sx = _mm512_set1_ps(a.scale[i * blocks + b]);
#pragma GCC unroll 4
        for (int s = 0; s < NS; ++s)
          facc[i][s] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][s]), _mm512_mul_ps(sx, sw[s]), facc[i][s]);
      }
      if constexpr (kMin) {
        __m512 mw[NS];
#pragma GCC unroll 4
        for (int s = 0; s < NS; ++s) mw[s] = _mm512_loadu_ps(minBase[s] + g * kStrip);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
          const __m512 xs = _mm512_set1_ps(a.xsum[i * groups + g]);
#pragma GCC unroll 4
          for (int s = 0; s < NS; ++s) facc[i][s] = _mm512_fmadd_ps(xs, mw[s], facc[i][s]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int s = 0; s < NS; ++s) {
    const int64_t valid = std::min<int64_t>(kStrip, cols - s * kStrip);
    const __mmask16 m = __mmask16((1u << valid) - 1u);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) _mm512_mask_storeu_ps(y + i * ldy + s * kStrip, m, facc[i][s]);
  }
}

template <int NS, int G, bool kMin>
LL_VNNI_TARGET void int8Rows(const Int8Act& a, int n, int64_t blocks, const uint8_t* strips,
                             size_t stripBytes, float* y, int64_t ldy, int64_t cols) {
  // 6 x 2 strips: 12 int32 and 12 f32 accumulators, enough independent dpbusd chains to hide
  // their latency (4 x 2 measured 6% slower on one Zen 5 core).
  constexpr int kMR = NS == 2 ? 6 : 8;
  const int64_t groups = blocks * (kQBlock / G);
  auto at = [&](int i) {
    return Int8Act{a.q + size_t(i) * blocks * kQBlock, a.scale + size_t(i) * blocks,
                   a.corr + size_t(i) * groups, kMin ? a.xsum + size_t(i) * groups : nullptr};
  };
  int i = 0;
  for (; i + kMR <= n; i += kMR)
    int8Tile<kMR, NS, G, kMin>(at(i), blocks, strips, stripBytes, y + i * ldy, ldy, cols);
  const Int8Act ai = at(i);
  float* yi = y + i * ldy;
  // The remainder takes a smaller tile: each lane's arithmetic is the same whatever the tile.
  switch (n - i) {
#define LL_TAIL(R)                                                           \
  case R:                                                                    \
    int8Tile<R, NS, G, kMin>(ai, blocks, strips, stripBytes, yi, ldy, cols); \
    break;
    LL_TAIL(1)
    LL_TAIL(2)
    LL_TAIL(3)
    LL_TAIL(4)
    LL_TAIL(5)
    LL_TAIL(6)
    LL_TAIL(7)
#undef LL_TAIL
    default:
      break;
  }
}

template <int G, bool kMin>
LL_VNNI_TARGET void int8Panel(const Int8Act& a, int n, int64_t blocks, const uint8_t* panel,
                              int64_t count, float* y, int64_t ldy, size_t stride) {
  const int64_t strips = stripsFor(count);
  int64_t s = 0;
  for (; s + 2 <= strips; s += 2)
    int8Rows<2, G, kMin>(a, n, blocks, panel + s * stride, stride, y + s * kStrip, ldy,
                         count - s * kStrip);
  if (s < strips)
    int8Rows<1, G, kMin>(a, n, blocks, panel + s * stride, stride, y + s * kStrip, ldy,
                         count - s * kStrip);
}

// One row's quants of block b as 32 bytes q + 128 (u8), the 16 bytes past them untouched.
LL_VNNI_TARGET __m256i blockBytes(QType type, const uint8_t* row, int64_t b) {
  if (type == QType::Q8_0)
    return _mm256_xor_si256(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + size_t(b) * 34 + 2)),
        _mm256_set1_epi8(char(0x80)));
  // Q4_0: k 0..15 are the low nibbles of the 16 bytes, k 16..31 the high ones; q - 8 + 128.
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + size_t(b) * 18 + 2));
  const __m128i lowMask = _mm_set1_epi8(0x0f);
  const __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(v, lowMask)),
                                            _mm_and_si128(_mm_srli_epi16(v, 4), lowMask), 1);
  return _mm256_add_epi8(q, _mm256_set1_epi8(120));
}

// 16 weight rows (valid of them) into one strip: two blocks of each row (16 quads) are loaded,
// transposed in registers and stored as 16 strip columns; an odd last block fills half.
LL_VNNI_TARGET void int8PackStrip(const CpuWeight& w, int64_t r0, int valid, uint8_t* st) {
  const int64_t blocks = w.cols / kQBlock;
  const __m512i pad = _mm512_set1_epi8(char(128));  // weight 0, for rows past valid
  float* scales = reinterpret_cast<float*>(st + size_t(blocks) * kQBlock * kStrip);
  __m512i r[kStrip];
  for (int64_t b = 0; b < blocks; b += 2) {
    const bool pair = b + 1 < blocks;
    for (int j = 0; j < kStrip; ++j) {
      if (j >= valid) {
        r[j] = pad;
        continue;
      }
      const uint8_t* row = w.rowPtr(r0 + j);
      const __m256i lo = blockBytes(w.type, row, b);
      r[j] = _mm512_inserti64x4(_mm512_castsi256_si512(lo),
                                pair ? blockBytes(w.type, row, b + 1) : lo, 1);
    }
    transpose16x16(r);
    for (int c = 0; c < (pair ? kStrip : kQuads); ++c)
      _mm512_storeu_si512(st + size_t(b * kQuads + c) * 64, r[c]);
  }
  for (int j = 0; j < kStrip; ++j)
    for (int64_t b = 0; b < blocks; ++b)
      scales[b * kStrip + j] = j < valid ? weightScale(w.type, w.rowPtr(r0 + j), b) : 0.0f;
}

// Any type with an int8 form: 16 rows decoded into a row-major buffer (int8StripRows), then two
// blocks of each row transposed in registers as Q8_0's strips are.
LL_VNNI_TARGET void int8PackStripDecoded(const CpuWeight& w, int64_t r0, int valid, uint8_t* st) {
  const int64_t blocks = w.cols / kQBlock, cols = w.cols;
  const int64_t groups = blocks * (kQBlock / int8Layout(w.type).group);
  thread_local std::vector<uint8_t> rows;
  rows.resize(size_t(kStrip) * cols);
  float* scales = reinterpret_cast<float*>(st + size_t(blocks) * kQBlock * kStrip);
  int8StripRows(w, r0, valid, rows.data(), scales, scales + groups * kStrip);
  __m512i r[kStrip];
  for (int64_t b = 0; b < blocks; b += 2) {
    const bool pair = b + 1 < blocks;
    for (int j = 0; j < kStrip; ++j) {
      const uint8_t* q = rows.data() + size_t(j) * cols + b * kQBlock;
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
      const __m256i hi =
          pair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + kQBlock)) : lo;
      r[j] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    transpose16x16(r);
    for (int c = 0; c < (pair ? kStrip : kQuads); ++c)
      _mm512_storeu_si512(st + size_t(b * kQuads + c) * 64, r[c]);
  }
}

}  // namespace

LL_VNNI_TARGET void int8StripRows(const CpuWeight& w, int64_t r0, int valid, uint8_t* rows,
                                  float* scales, float* mins) {
  const int64_t blocks = w.cols / kQBlock, cols = w.cols;
  const Int8Layout l = int8Layout(w.type);
  const int64_t groups = blocks * (kQBlock / l.group);
  const bool direct = w.type == QType::Q8_0 || w.type == QType::Q4_0;
  thread_local std::vector<float> dm;
  dm.resize(size_t(2) * groups);
  for (int j = 0; j < kStrip; ++j) {
    uint8_t* q = rows + size_t(j) * cols;
    if (j >= valid) {  // weight 0, scale 0, min 0
      std::memset(q, 128, size_t(cols));
      std::fill(dm.begin(), dm.end(), 0.0f);
    } else if (direct) {
      // Generation decodes every weight per token here: scales convert in hardware (exact, as
      // fp16ToFp32) straight into their lanes.
      const uint8_t* row = w.rowPtr(r0 + j);
      const size_t blockBytesInFile = w.type == QType::Q8_0 ? 34 : 18;
      for (int64_t b = 0; b < blocks; ++b) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * kQBlock),
                            blockBytes(w.type, row, b));
        uint16_t h;
        std::memcpy(&h, row + size_t(b) * blockBytesInFile, 2);
        scales[b * kStrip + j] =
            _mm512_cvtss_f32(_mm512_cvtph_ps(_mm256_castsi128_si256(_mm_cvtsi32_si128(int(h)))));
      }
      continue;
    } else {
      int8DecodeRow(w.type, w.rowPtr(r0 + j), cols, q, dm.data(), dm.data() + groups);
    }
    for (int64_t g = 0; g < groups; ++g) {
      scales[g * kStrip + j] = dm[size_t(g)];
      if (l.mins) mins[g * kStrip + j] = dm[size_t(groups + g)];
    }
  }
}

void int8PackPanelScalar(const CpuWeight& w, int64_t r0, int64_t count, uint8_t* dst) {
  const int64_t blocks = w.cols / kQBlock, strips = stripsFor(count);
  const Int8Layout l = int8Layout(w.type);
  const int64_t groups = blocks * (kQBlock / l.group);
  const size_t stripBytes = int8StripBytes(blocks, l);
  // Padding rows: bytes 128 (weight 0), scale and min 0.
  for (int64_t s = 0; s < strips; ++s) {
    uint8_t* st = dst + size_t(s) * stripBytes;
    std::memset(st, 128, size_t(blocks) * kQBlock * kStrip);
    std::memset(st + size_t(blocks) * kQBlock * kStrip, 0,
                stripBytes - size_t(blocks) * kQBlock * kStrip);
  }
  std::vector<uint8_t> q(static_cast<size_t>(w.cols));
  std::vector<float> d(static_cast<size_t>(groups)), m(static_cast<size_t>(groups));
  for (int64_t r = 0; r < count; ++r) {
    uint8_t* st = dst + size_t(r / kStrip) * stripBytes;
    float* scales = reinterpret_cast<float*>(st + size_t(blocks) * kQBlock * kStrip);
    const int64_t lane = r % kStrip;
    int8DecodeRow(w.type, w.rowPtr(r0 + r), w.cols, q.data(), d.data(), m.data());
    for (int64_t g = 0; g < groups; ++g) {
      scales[g * kStrip + lane] = d[size_t(g)];
      if (l.mins) scales[(groups + g) * kStrip + lane] = m[size_t(g)];
    }
    for (int64_t b = 0; b < blocks; ++b)
      for (int qd = 0; qd < kQuads; ++qd) {
        uint8_t* o = st + size_t(b * kQuads + qd) * 64 + lane * 4;
        for (int t = 0; t < 4; ++t) o[t] = q[size_t(b * kQBlock + qd * 4 + t)];
      }
  }
}

void int8PackPanel(const CpuWeight& w, int64_t r0, int64_t count, uint8_t* dst) {
  const size_t stripBytes = int8StripBytes(w.cols / kQBlock, int8Layout(w.type));
  // Q8_0 and Q4_0 (the common types) convert blocks in registers; the others decode first.
  const bool direct = w.type == QType::Q8_0 || w.type == QType::Q4_0;
  for (int64_t s = 0; s * kStrip < count; ++s) {
    const int valid = int(std::min<int64_t>(kStrip, count - s * kStrip));
    if (direct)
      int8PackStrip(w, r0 + s * kStrip, valid, dst + size_t(s) * stripBytes);
    else
      int8PackStripDecoded(w, r0 + s * kStrip, valid, dst + size_t(s) * stripBytes);
  }
}

void int8PanelAvx512(const Int8Act& a, int n, int64_t blocks, const uint8_t* panel, int64_t count,
                     float* y, int64_t ldy, Int8Layout l) {
  const size_t stride = int8StripBytes(blocks, l);
  if (l.group == kQBlock)
    (l.mins ? int8Panel<32, true> : int8Panel<32, false>)(a, n, blocks, panel, count, y, ldy,
                                                          stride);
  else
    (l.mins ? int8Panel<16, true> : int8Panel<16, false>)(a, n, blocks, panel, count, y, ldy,
                                                          stride);
}

void int8PanelScalar(const Int8Act& a, int n, int64_t blocks, const uint8_t* panel, int64_t count,
                     float* y, int64_t ldy, Int8Layout l) {
  const size_t stride = int8StripBytes(blocks, l);
  const int sub = kQBlock / l.group;
  const int64_t groups = blocks * sub;
  for (int i = 0; i < n; ++i)
    for (int64_t j = 0; j < count; ++j) {
      const uint8_t* st = panel + size_t(j / kStrip) * stride;
      const float* scales = reinterpret_cast<const float*>(st + size_t(blocks) * kQBlock * kStrip);
      const float* mins = scales + groups * kStrip;
      const int64_t lane = j % kStrip;
      float acc = 0.0f;
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t b = g / sub;
        int32_t sum = -a.corr[size_t(i) * groups + g];
        for (int64_t k = (g % sub) * l.group; k < (g % sub + 1) * l.group; ++k) {
          const int wq = st[size_t(b * kQuads + k / 4) * 64 + lane * 4 + k % 4];  // w + 128
          sum += int(a.q[size_t(i) * blocks * kQBlock + b * kQBlock + k]) * wq;
        }
        acc =
            std::fma(float(sum), a.scale[size_t(i) * blocks + b] * scales[g * kStrip + lane], acc);
        if (l.mins) acc = std::fma(a.xsum[size_t(i) * groups + g], mins[g * kStrip + lane], acc);
      }
      y[size_t(i) * ldy + j] = acc;
    }
}

}  // namespace ll::kern::fast
