// Fast math mode, quantized weights, few activation rows (generation, the last-word update): int8
// products read straight from the weights (Q8_0, Q4_0, Q4_K, Q6_K blocks as they lie in the file,
// other types through one decoded row in L1), bit-identical with the panel kernel (fast_int8.cpp).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_transpose.h"

#define LL_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

namespace ll::kern::fast {
namespace {

// Blocks per chunk: 8 products of 64 activation bytes against 64 weight bytes (two blocks each)
// reduce to one vector of 16 block sums (groups of 32) or two of 16 group sums (groups of 16).
constexpr int kChunk = 16;

// Where the lane-sum tree of a chunk leaves group q (k order within its 16 groups). Product t's
// 128-bit lane L holds group 4t + L of 16 weights; the tree puts product 4m + e, lane L at
// position 4L + e of vector m (groups of 16: vector m holds groups 16m..16m+15). For groups of 32
// the two halves of each block are then added: block 2e at position e, 2e + 1 at 4 + e, 8 + 2e at
// 8 + e, 9 + 2e at 12 + e.
constexpr int treePos(int g, int q) {
  if (g == 16) return 4 * (q % 4) + q / 4;
  return q < 8 ? 4 * (q % 2) + q / 2 : 4 * (2 + (q - 8) % 2) + (q - 8) / 2;
}

// One weight row's 64-byte pairs of blocks (b, b + 1) as q + 128 bytes. `both` false: b is the
// row's last block and the upper half is zero (its activations are zero too).
struct Q8Pairs {
  const uint8_t* row;
  LL_VNNI_TARGET __m512i operator()(int64_t b, bool both) const {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * 34 + 2));
    const __m256i hi = both
                           ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * 34 + 36))
                           : _mm256_setzero_si256();
    return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                            _mm512_set1_epi8(char(0x80)));
  }
};

// Q4_0: k 0..15 are the low nibbles of a block's 16 bytes, 16..31 the high ones; q - 8 + 128.
struct Q4Pairs {
  const uint8_t* row;
  LL_VNNI_TARGET static __m256i block(const uint8_t* p) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2));
    const __m128i low = _mm_set1_epi8(0x0f);
    const __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(v, low)),
                                              _mm_and_si128(_mm_srli_epi16(v, 4), low), 1);
    return _mm256_add_epi8(q, _mm256_set1_epi8(120));
  }
  LL_VNNI_TARGET __m512i operator()(int64_t b, bool both) const {
    const __m256i lo = block(row + b * 18);
    const __m256i hi = both ? block(row + b * 18 + 18) : _mm256_setzero_si256();
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  }
};

// Q4_K: each 256-weight super-block's quants are 4 x 32 bytes after d, dmin and the 12 scale
// bytes; 32 bytes hold blocks 2c (low nibbles) and 2c + 1 (high nibbles): exactly one pair.
struct Q4KPairs {
  const uint8_t* row;
  LL_VNNI_TARGET __m512i operator()(int64_t b, bool) const {
    const __m256i v = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(row + (b / 8) * 144 + 16 + (b % 8) / 2 * 32));
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i lo = _mm256_and_si256(v, low),
                  hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                            _mm512_set1_epi8(char(0x80)));
  }
};

// Q6_K: per 128 weights (half c of a super-block) 64 bytes of low nibbles ql and 32 of high bit
// pairs qh; blocks 4c, 4c + 1 take the low nibbles of ql[0..31], ql[32..63] with qh bits 0-1,
// 2-3; blocks 4c + 2, 4c + 3 the high nibbles with bits 4-5, 6-7. q - 32 + 128 = q + 96.
struct Q6KPairs {
  const uint8_t* row;
  LL_VNNI_TARGET __m512i operator()(int64_t b, bool) const {
    const uint8_t* sb = row + (b / 8) * 210;
    const int c = int(b % 8) / 4, upper = int(b % 4) / 2;
    const __m512i ql = _mm512_loadu_si512(sb + 64 * c);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + 128 + 32 * c));
    const __m512i nib =
        _mm512_and_si512(upper ? _mm512_srli_epi16(ql, 4) : ql, _mm512_set1_epi8(0x0f));
    const __m256i h0 = upper ? _mm256_srli_epi16(qh, 4) : qh, h1 = _mm256_srli_epi16(h0, 2);
    const __m512i h = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(h0), h1, 1),
                                       _mm512_set1_epi8(3));
    return _mm512_add_epi8(_mm512_or_si512(nib, _mm512_slli_epi16(h, 4)), _mm512_set1_epi8(96));
  }
};

// fp16 -> f32 in hardware: exact, the value fp16ToFp32 gives.
LL_VNNI_TARGET inline float halfAt(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(int(h))));
}

// Strip tables written per weight row: group g of strip lane j at rowTable(g, j), 16 groups of a
// row contiguous, so a row's scales go in with vector stores and one 16 x 16 transpose per chunk
// (transposeTable) turns them into the [group][lane] vectors the outputs need.
inline size_t rowTable(int64_t g, int j) {
  return size_t((g / 16 * kStrip + j) * 16 + g % 16);
}

// A Q4_K row's group scales d * sc and mins -(dmin * m), 8 per super-block, the values
// int8DecodeRow gives (the 6-bit sc / m unpacked four at a time, products rounded once), to
// d[rowTable(g, j)], m[rowTable(g, j)].
LL_VNNI_TARGET void q4KScales(const uint8_t* row, int64_t superBlocks, int j, float* d, float* m) {
  for (int64_t sb = 0; sb < superBlocks; ++sb, row += 144) {
    uint32_t w[3];
    std::memcpy(w, row + 4, 12);
    const uint32_t sc0 = w[0] & 0x3f3f3f3f, mn0 = w[1] & 0x3f3f3f3f;
    const uint32_t sc1 = (w[2] & 0x0f0f0f0f) | ((w[0] >> 2) & 0x30303030);
    const uint32_t mn1 = ((w[2] >> 4) & 0x0f0f0f0f) | ((w[1] >> 2) & 0x30303030);
    auto floats = [](uint32_t lo, uint32_t hi) LL_VNNI_TARGET {
      return _mm256_cvtepi32_ps(
          _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(uint64_t(hi) << 32 | lo))));
    };
    const size_t at = rowTable(sb * 8, j);
    _mm256_storeu_ps(d + at, _mm256_mul_ps(_mm256_set1_ps(halfAt(row)), floats(sc0, sc1)));
    const __m256 mins = _mm256_mul_ps(_mm256_set1_ps(halfAt(row + 2)), floats(mn0, mn1));
    _mm256_storeu_ps(m + at, _mm256_xor_ps(mins, _mm256_set1_ps(-0.0f)));
  }
}

// A Q6_K row's group scales d * sc (16 signed bytes per super-block), to d[rowTable(g, j)].
LL_VNNI_TARGET void q6KScales(const uint8_t* row, int64_t superBlocks, int j, float* d) {
  for (int64_t sb = 0; sb < superBlocks; ++sb, row += 210) {
    const __m512 sc = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 192))));
    _mm512_storeu_ps(d + rowTable(sb * 16, j),
                     _mm512_mul_ps(_mm512_set1_ps(halfAt(row + 208)), sc));
  }
}

// A decoded row's groups (int8DecodeRow's d or m) to table[rowTable(g, j)].
LL_VNNI_TARGET void copyRowGroups(const float* src, int64_t groups, int j, float* table) {
  for (int64_t g = 0; g < groups; g += 16) {
    const __mmask16 m = groups - g >= 16 ? __mmask16(0xffff) : __mmask16((1u << (groups - g)) - 1);
    _mm512_mask_storeu_ps(table + rowTable(g, j), m, _mm512_maskz_loadu_ps(m, src + g));
  }
}

// rowTable layout to [group][lane] (16 lanes per group), whole chunks.
LL_VNNI_TARGET void transposeTable(const float* rows, int64_t groups, float* out) {
  for (int64_t c = 0; c * 16 < groups; ++c) {
    __m512i r[kStrip];
#pragma GCC unroll 16
    for (int j = 0; j < kStrip; ++j) r[j] = _mm512_loadu_si512(rows + (c * kStrip + j) * 16);
    transpose16x16(r);
#pragma GCC unroll 16
    for (int q = 0; q < 16; ++q) _mm512_storeu_si512(out + (c * 16 + q) * kStrip, r[q]);
  }
}

// A row decoded to q + 128 bytes (int8DecodeRow), for the other types.
struct DecodedPairs {
  const uint8_t* q;
  LL_VNNI_TARGET __m512i operator()(int64_t b, bool both) const {
    return _mm512_maskz_loadu_epi8(both ? ~__mmask64(0) : __mmask64(0xffffffffu), q + b * kQBlock);
  }
};

// The integer sums of one weight row (strip lane j) with N activation rows, chunk by chunk, to
// sums[i * iStride + (c * 16 + j) * 16 + p] (c counts 16-group chunks; p as treePos). Integer
// sums are exact, so how the lanes are added does not matter; only the f32 steps are ordered.
template <int G, int N, class Pairs>
LL_VNNI_TARGET void rowSums(const Pairs& pairs, const int8_t* xq, int64_t cols, int j,
                            int32_t* sums, size_t iStride) {
  const int64_t blocks = cols / kQBlock;
  for (int64_t c = 0; c * kChunk < blocks; ++c) {
    const int64_t b0 = c * kChunk;
    const bool full = b0 + kChunk <= blocks;
    __m512i w[8];
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      const int64_t b = b0 + 2 * t;
      w[t] = full || b + 1 < blocks ? pairs(b, true)
             : b < blocks           ? pairs(b, false)
                                    : _mm512_setzero_si512();
    }
#pragma GCC unroll 4
    for (int i = 0; i < N; ++i) {
      const int8_t* x = xq + size_t(i) * cols + b0 * kQBlock;
      __m512i p[8];
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t) {
        // Activations past the row's blocks read as zero: their weight lanes add nothing.
        const int64_t bytes = std::clamp<int64_t>((blocks - b0 - 2 * t) * kQBlock, 0, 64);
        const __m512i xv =
            full ? _mm512_loadu_si512(x + t * 64)
                 : _mm512_maskz_loadu_epi8(
                       bytes >= 64 ? ~__mmask64(0) : (__mmask64(1) << bytes) - 1, x + t * 64);
        p[t] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[t], xv);
      }
      __m512i a[4], m[2];
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k)
        a[k] = _mm512_add_epi32(_mm512_unpacklo_epi32(p[2 * k], p[2 * k + 1]),
                                _mm512_unpackhi_epi32(p[2 * k], p[2 * k + 1]));
#pragma GCC unroll 2
      for (int k = 0; k < 2; ++k)
        m[k] = _mm512_add_epi32(_mm512_unpacklo_epi64(a[2 * k], a[2 * k + 1]),
                                _mm512_unpackhi_epi64(a[2 * k], a[2 * k + 1]));
      int32_t* out = sums + size_t(i) * iStride;
      if constexpr (G == 32) {
        const __m512i d = _mm512_add_epi32(_mm512_shuffle_i32x4(m[0], m[1], 0x88),
                                           _mm512_shuffle_i32x4(m[0], m[1], 0xDD));
        _mm512_storeu_si512(out + (c * kStrip + j) * 16, d);
      } else {
        _mm512_storeu_si512(out + (2 * c * kStrip + j) * 16, m[0]);
        _mm512_storeu_si512(out + ((2 * c + 1) * kStrip + j) * 16, m[1]);
      }
    }
  }
}

// Group g's weight scales for the strip's 16 rows: fp16 from the file (Q8_0, Q4_0), converted
// here in hardware as the panel packer does, or f32 from the decoder.
template <bool kHalf>
LL_VNNI_TARGET __m512 stripScales(const void* table, int64_t g) {
  if constexpr (kHalf)
    return _mm512_cvtph_ps(_mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(table) + g * kStrip)));
  else
    return _mm512_loadu_ps(static_cast<const float*>(table) + g * kStrip);
}

// Group g's f32 steps for the 16 rows, as the panel kernel's: (S - corr) as f32 times d_x d_g,
// then, with mins, xsum_g m_g.
template <int G, bool kMin, bool kHalf>
LL_VNNI_TARGET __attribute__((always_inline)) inline __m512 groupStep(__m512 facc, __m512i sum,
                                                                      const Int8Act& a, int64_t g,
                                                                      const void* scales,
                                                                      const float* mins) {
  const __m512i s = _mm512_sub_epi32(sum, _mm512_set1_epi32(a.corr[g]));
  const __m512 sx = _mm512_set1_ps(a.scale[g * G / kQBlock]);
  facc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(sx, stripScales<kHalf>(scales, g)),
                         facc);
  if constexpr (kMin)
    facc = _mm512_fmadd_ps(_mm512_set1_ps(a.xsum[g]), _mm512_loadu_ps(mins + g * kStrip), facc);
  return facc;
}

// One activation row's outputs for the strip: the 16 x 16 sums of each chunk are transposed so
// lane j holds row j, then per group in k order the panel kernel's f32 steps (fast_int8.cpp:
// (S - corr) as f32 times d_x d_g, then the min term).
template <int G, bool kMin, bool kHalf>
LL_VNNI_TARGET void stripOutputs(const Int8Act& a, int64_t blocks, const int32_t* sums,
                                 const void* scales, const float* mins, float* y, int valid) {
  const int64_t groups = blocks * (kQBlock / G);
  __m512 facc = _mm512_setzero_ps();
  for (int64_t c = 0; c * 16 < groups; ++c) {
    __m512i r[kStrip];
#pragma GCC unroll 16
    for (int j = 0; j < kStrip; ++j) r[j] = _mm512_loadu_si512(sums + (c * kStrip + j) * 16);
    transpose16x16(r);
    const int64_t g0 = c * 16;
    if (g0 + 16 <= groups) {
#pragma GCC unroll 16
      for (int q = 0; q < 16; ++q)
        facc = groupStep<G, kMin, kHalf>(facc, r[treePos(G, q)], a, g0 + q, scales, mins);
    } else {
      for (int q = 0; g0 + q < groups; ++q)
        facc = groupStep<G, kMin, kHalf>(facc, r[treePos(G, q)], a, g0 + q, scales, mins);
    }
  }
  _mm512_mask_storeu_ps(y, __mmask16((1u << valid) - 1u), facc);
}

// Per-thread tables of one strip, reused across calls.
struct Tables {
  std::vector<int32_t> sums;     // [n][chunks][16 rows][16]
  std::vector<uint16_t> halves;  // [groups][16 rows]: Q8_0 / Q4_0 scales
  std::vector<float> scales;     // [groups][16 rows]: decoded scales
  std::vector<float> mins;       // [groups][16 rows]
  std::vector<float> rowScales;  // the same in rowTable layout, as the rows are read
  std::vector<float> rowMins;
  std::vector<uint8_t> row;  // one decoded row
  std::vector<float> dm;     // its scales, then its mins
};

// 16-group chunks of sums per activation row: two per 16 blocks for groups of 16.
size_t sumChunks(int64_t blocks, int group) {
  return size_t(blocks + kChunk - 1) / kChunk * size_t(kQBlock / group);
}

Tables& tables(int n, int64_t cols, int64_t groups, size_t iStride) {
  thread_local Tables t;
  t.sums.resize(size_t(n) * iStride);
  t.halves.resize(size_t(groups) * kStrip);
  // Whole 16-group chunks: the transposes read and write them entire.
  const size_t chunked = size_t(groups + 15) / 16 * 16 * kStrip;
  t.scales.resize(chunked);
  t.mins.resize(chunked);
  t.rowScales.resize(chunked);
  t.rowMins.resize(chunked);
  t.row.resize(size_t(cols));
  t.dm.resize(size_t(2) * groups);
  return t;
}

template <int G, bool kMin, int N>
LL_VNNI_TARGET void directStrips(const CpuWeight& w, const Int8Act& a, int64_t r0, int64_t count,
                                 float* y, int64_t ldy) {
  const int64_t cols = w.cols, blocks = cols / kQBlock, groups = blocks * (kQBlock / G);
  const size_t iStride = sumChunks(blocks, G) * kStrip * 16;
  Tables& t = tables(N, cols, groups, iStride);
  const QType type = w.type;
  const bool half = type == QType::Q8_0 || type == QType::Q4_0;
  int32_t* sums = t.sums.data();
  for (int64_t s = 0; s * kStrip < count; ++s) {
    const int valid = int(std::min<int64_t>(kStrip, count - s * kStrip));
    for (int j = 0; j < valid; ++j) {
      const uint8_t* row = w.rowPtr(r0 + s * kStrip + j);
      if (half) {
        // The fp16 scales go to the strip's table as they are; converted 16 at a time below.
        const size_t bytes = type == QType::Q8_0 ? 34 : 18;
        if (type == QType::Q8_0)
          rowSums<G, N>(Q8Pairs{row}, a.q, cols, j, sums, iStride);
        else
          rowSums<G, N>(Q4Pairs{row}, a.q, cols, j, sums, iStride);
        for (int64_t b = 0; b < blocks; ++b)
          std::memcpy(&t.halves[size_t(b) * kStrip + j], row + size_t(b) * bytes, 2);
        continue;
      }
      if (G == 32 && type == QType::Q4_K) {
        rowSums<G, N>(Q4KPairs{row}, a.q, cols, j, sums, iStride);
        q4KScales(row, cols / 256, j, t.rowScales.data(), t.rowMins.data());
      } else if (G == 16 && type == QType::Q6_K) {
        rowSums<G, N>(Q6KPairs{row}, a.q, cols, j, sums, iStride);
        q6KScales(row, cols / 256, j, t.rowScales.data());
      } else {
        int8DecodeRow(type, row, cols, t.row.data(), t.dm.data(), t.dm.data() + groups);
        rowSums<G, N>(DecodedPairs{t.row.data()}, a.q, cols, j, sums, iStride);
        copyRowGroups(t.dm.data(), groups, j, t.rowScales.data());
        if (kMin) copyRowGroups(t.dm.data() + groups, groups, j, t.rowMins.data());
      }
    }
    if (!half) {
      transposeTable(t.rowScales.data(), groups, t.scales.data());
      if (kMin) transposeTable(t.rowMins.data(), groups, t.mins.data());
    }
    for (int i = 0; i < N; ++i) {
      const Int8Act ai{a.q + size_t(i) * cols, a.scale + size_t(i) * blocks,
                       a.corr + size_t(i) * groups, kMin ? a.xsum + size_t(i) * groups : nullptr};
      float* yi = y + size_t(i) * ldy + s * kStrip;
      const int32_t* si = t.sums.data() + size_t(i) * iStride;
      if (half)
        stripOutputs<G, kMin, true>(ai, blocks, si, t.halves.data(), nullptr, yi, valid);
      else
        stripOutputs<G, kMin, false>(ai, blocks, si, t.scales.data(), t.mins.data(), yi, valid);
    }
  }
}

template <int G, bool kMin>
void directRows(const CpuWeight& w, const Int8Act& a, int n, int64_t r0, int64_t count, float* y,
                int64_t ldy) {
  switch (n) {
    case 1:
      return directStrips<G, kMin, 1>(w, a, r0, count, y, ldy);
    case 2:
      return directStrips<G, kMin, 2>(w, a, r0, count, y, ldy);
    case 3:
      return directStrips<G, kMin, 3>(w, a, r0, count, y, ldy);
    default:
      return directStrips<G, kMin, 4>(w, a, r0, count, y, ldy);
  }
}

}  // namespace

void int8DirectAvx512(const CpuWeight& w, const Int8Act& a, int n, int64_t r0, int64_t count,
                      float* y, int64_t ldy) {
  const Int8Layout l = int8Layout(w.type);
  // More rows than the kernel takes at once go in slices of 4 (each output's steps do not
  // depend on the slice).
  for (int i0 = 0; i0 < n; i0 += 4) {
    const int64_t cols = w.cols, blocks = cols / kQBlock, groups = blocks * (kQBlock / l.group);
    const Int8Act ai{a.q + size_t(i0) * cols, a.scale + size_t(i0) * blocks,
                     a.corr + size_t(i0) * groups, a.xsum ? a.xsum + size_t(i0) * groups : nullptr};
    const int m = std::min(4, n - i0);
    float* yi = y + size_t(i0) * ldy;
    if (l.group == kQBlock)
      (l.mins ? directRows<32, true> : directRows<32, false>)(w, ai, m, r0, count, yi, ldy);
    else
      (l.mins ? directRows<16, true> : directRows<16, false>)(w, ai, m, r0, count, yi, ldy);
  }
}

}  // namespace ll::kern::fast
