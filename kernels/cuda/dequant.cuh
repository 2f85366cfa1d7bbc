// Device-side decoding of GGML weight blocks, one element at a time, bit-exact with
// kernels/quant.cpp (ggml's to_float): products and sums are rounded separately (__fmul_rn,
// __fadd_rn) because nvcc would otherwise contract them into FMAs and change the last bit.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/quant.h"

namespace ll::kern::cuda {

// Block layout of each type (elements, bytes); mirrors quant.cpp without linking to it.
struct BlockShape {
  int elems;
  int bytes;
};
inline BlockShape blockShape(QType t) {
  switch (t) {
    case QType::F32:
      return {1, 4};
    case QType::F16:
      return {1, 2};
    case QType::BF16:
      return {1, 2};
    case QType::Q4_0:
      return {32, 18};
    case QType::Q4_1:
      return {32, 20};
    case QType::Q5_0:
      return {32, 22};
    case QType::Q5_1:
      return {32, 24};
    case QType::Q8_0:
      return {32, 34};
    case QType::Q2_K:
      return {256, 84};
    case QType::Q3_K:
      return {256, 110};
    case QType::Q4_K:
      return {256, 144};
    case QType::Q5_K:
      return {256, 176};
    case QType::Q6_K:
      return {256, 210};
    case QType::IQ4_NL:
      return {32, 18};
    case QType::IQ4_XS:
      return {256, 136};
    case QType::MXFP4:
      return {32, 17};
  }
  return {0, 0};
}

__device__ __forceinline__ float ldHalf(const uint8_t* p) {
  const unsigned short bits = (unsigned short)(p[0] | (p[1] << 8));
  return __half2float(__ushort_as_half(bits));
}
__device__ __forceinline__ float ldBf16(const uint8_t* p) {
  const unsigned bits = unsigned(p[0] | (p[1] << 8)) << 16;
  return __uint_as_float(bits);
}
__device__ __forceinline__ float fmul(float a, float b) {
  return __fmul_rn(a, b);
}
__device__ __forceinline__ float fadd(float a, float b) {
  return __fadd_rn(a, b);
}
__device__ __forceinline__ float fsub(float a, float b) {
  return __fsub_rn(a, b);
}

// quant.h's 16-entry codebooks (kIq4nlValues, kMxfp4Values) packed eight int8 per 64-bit word, so
// device code reads them from constants instead of a host array.
constexpr uint64_t packCodebook(const int8_t* v, int first) {
  uint64_t w = 0;
  for (int i = 0; i < 8; ++i) w |= uint64_t(uint8_t(v[first + i])) << (8 * i);
  return w;
}
constexpr uint64_t kIq4nlLo = packCodebook(kIq4nlValues, 0),
                   kIq4nlHi = packCodebook(kIq4nlValues, 8);
constexpr uint64_t kMxfp4Lo = packCodebook(kMxfp4Values, 0),
                   kMxfp4Hi = packCodebook(kMxfp4Values, 8);
__device__ __forceinline__ int codebook(uint64_t lo, uint64_t hi, int nibble) {
  return int8_t(uint8_t((nibble < 8 ? lo : hi) >> (8 * (nibble & 7))));
}
// e8m0ToFp32Half of quant.h: 2^(e - 128), subnormal for e < 2.
__device__ __forceinline__ float e8m0Half(uint8_t e) {
  return __uint_as_float(e < 2 ? 0x00200000u << e : unsigned(e - 1) << 23);
}

// get_scale_min_k4 of ggml (Q4_K, Q5_K): 6-bit scale and min of sub-block j.
__device__ __forceinline__ void scaleMinK4(int j, const uint8_t* q, int& d, int& m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Element j of a row of type T (row points at the row's first byte).
template <int T>
__device__ __forceinline__ float dq(const uint8_t* row, int64_t j) {
  constexpr QType t = QType(T);
  if constexpr (t == QType::F32) {
    return reinterpret_cast<const float*>(row)[j];
  } else if constexpr (t == QType::F16) {
    return __half2float(reinterpret_cast<const __half*>(row)[j]);
  } else if constexpr (t == QType::BF16) {
    const unsigned short b = reinterpret_cast<const unsigned short*>(row)[j];
    return __uint_as_float(unsigned(b) << 16);
  } else if constexpr (t == QType::Q8_0) {
    const uint8_t* b = row + (j / 32) * 34;
    const int v = int8_t(b[2 + j % 32]);
    return fmul(float(v), ldHalf(b));
  } else if constexpr (t == QType::Q4_0 || t == QType::Q4_1) {
    constexpr int bs = t == QType::Q4_0 ? 18 : 20;
    constexpr int qo = t == QType::Q4_0 ? 2 : 4;
    const uint8_t* b = row + (j / 32) * bs;
    const int i = int(j % 32);
    const uint8_t q = b[qo + (i & 15)];
    const int v = i < 16 ? (q & 0xF) : (q >> 4);
    if constexpr (t == QType::Q4_0)
      return fmul(float(v - 8), ldHalf(b));
    else
      return fadd(fmul(float(v), ldHalf(b)), ldHalf(b + 2));
  } else if constexpr (t == QType::Q5_0 || t == QType::Q5_1) {
    constexpr int bs = t == QType::Q5_0 ? 22 : 24;
    constexpr int ho = t == QType::Q5_0 ? 2 : 4;
    const uint8_t* b = row + (j / 32) * bs;
    const int i = int(j % 32);
    const uint32_t qh = uint32_t(b[ho]) | (uint32_t(b[ho + 1]) << 8) | (uint32_t(b[ho + 2]) << 16) |
                        (uint32_t(b[ho + 3]) << 24);
    const uint8_t q = b[ho + 4 + (i & 15)];
    int v;
    if (i < 16)
      v = (q & 0xF) | int(((qh >> i) << 4) & 0x10);
    else
      v = (q >> 4) | int((qh >> (i - 16 + 12)) & 0x10);
    if constexpr (t == QType::Q5_0)
      return fmul(float(v - 16), ldHalf(b));
    else
      return fadd(fmul(float(v), ldHalf(b)), ldHalf(b + 2));
  } else if constexpr (t == QType::Q2_K) {
    // scales[16], qs[64], d, dmin
    const uint8_t* b = row + (j / 256) * 84;
    const int i = int(j % 256);
    const int n = i / 128, r = i % 128, sh = r / 32, u = r % 32, second = u / 16, l = u % 16;
    const uint8_t sc = b[n * 8 + sh * 2 + second];
    const float dl = fmul(ldHalf(b + 80), float(sc & 0xF));
    const float ml = fmul(ldHalf(b + 82), float(sc >> 4));
    const int q = (b[16 + n * 32 + second * 16 + l] >> (2 * sh)) & 3;
    return fsub(fmul(dl, float(q)), ml);
  } else if constexpr (t == QType::Q3_K) {
    // hmask[32], qs[64], scales[12], d
    const uint8_t* b = row + (j / 256) * 110;
    const int i = int(j % 256);
    const int n = i / 128, r = i % 128, sh = r / 32, u = r % 32, second = u / 16, l = u % 16;
    const int is = n * 8 + sh * 2 + second;
    const uint8_t* s = b + 96;
    const int g = is / 4, k = is % 4;
    const int lo = g == 0   ? (s[k] & 0xF)
                   : g == 1 ? (s[4 + k] & 0xF)
                   : g == 2 ? (s[k] >> 4)
                            : (s[4 + k] >> 4);
    const int hi = (s[8 + k] >> (2 * g)) & 3;
    const int scale = int(int8_t(uint8_t(lo | (hi << 4)))) - 32;
    const float dl = fmul(ldHalf(b + 108), float(scale));
    const int q = (b[32 + n * 32 + second * 16 + l] >> (2 * sh)) & 3;
    const int hm = b[second * 16 + l] & (1 << (n * 4 + sh));
    return fmul(dl, float(q - (hm ? 0 : 4)));
  } else if constexpr (t == QType::Q4_K || t == QType::Q5_K) {
    constexpr int bs = t == QType::Q4_K ? 144 : 176;
    constexpr int qo = t == QType::Q4_K ? 16 : 48;
    const uint8_t* b = row + (j / 256) * bs;
    const int i = int(j % 256);
    const int c = i / 64, r = i % 64, hiHalf = r / 32, l = r % 32;
    int sc, m;
    scaleMinK4(2 * c + hiHalf, b + 4, sc, m);
    const float d1 = fmul(ldHalf(b), float(sc));
    const float m1 = fmul(ldHalf(b + 2), float(m));
    const uint8_t q = b[qo + c * 32 + l];
    int v = hiHalf ? (q >> 4) : (q & 0xF);
    if constexpr (t == QType::Q5_K) v += (b[16 + l] & (1 << (2 * c + hiHalf))) ? 16 : 0;
    return fsub(fmul(d1, float(v)), m1);
  } else if constexpr (t == QType::Q6_K) {
    // ql[128], qh[64], scales[16] (int8), d
    const uint8_t* b = row + (j / 256) * 210;
    const int i = int(j % 256);
    const int n = i / 128, r = i % 128, g = r / 32, l = r % 32;
    const uint8_t* ql = b + n * 64;
    const uint8_t qh = b[128 + n * 32 + l];
    const int lo = g == 0   ? (ql[l] & 0xF)
                   : g == 1 ? (ql[l + 32] & 0xF)
                   : g == 2 ? (ql[l] >> 4)
                            : (ql[l + 32] >> 4);
    const int q = int(int8_t(uint8_t(lo | (((qh >> (2 * g)) & 3) << 4)))) - 32;
    const int sc = int8_t(b[192 + n * 8 + l / 16 + 2 * g]);
    return fmul(fmul(ldHalf(b + 208), float(sc)), float(q));
  } else if constexpr (t == QType::IQ4_NL || t == QType::MXFP4) {
    // IQ4_NL: d (f16), qs[16]; MXFP4: e (E8M0), qs[16]. Q4_0's nibble order, codebook values.
    constexpr bool nl = t == QType::IQ4_NL;
    const uint8_t* b = row + (j / 32) * (nl ? 18 : 17);
    const int i = int(j % 32);
    const uint8_t q = b[(nl ? 2 : 1) + (i & 15)];
    const int nib = i < 16 ? (q & 0xF) : (q >> 4);
    if constexpr (nl)
      return fmul(ldHalf(b), float(codebook(kIq4nlLo, kIq4nlHi, nib)));
    else
      return fmul(float(codebook(kMxfp4Lo, kMxfp4Hi, nib)), e8m0Half(b[0]));
  } else if constexpr (t == QType::IQ4_XS) {
    // d, scales_h (u16), scales_l[4], qs[128]: eight 32-element sub-blocks, 6-bit scales - 32.
    const uint8_t* b = row + (j / 256) * 136;
    const int i = int(j % 256);
    const int ib = i / 32, u = i % 32;
    const unsigned scalesH = unsigned(b[2]) | (unsigned(b[3]) << 8);
    const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
    const float dl = fmul(ldHalf(b), float(ls - 32));
    const uint8_t q = b[8 + ib * 16 + (u & 15)];
    const int nib = u < 16 ? (q & 0xF) : (q >> 4);
    return fmul(dl, float(codebook(kIq4nlLo, kIq4nlHi, nib)));
  } else {
    static_assert(T < 0, "unsupported type");
    return 0.0f;
  }
}

// Calls f(std::integral_constant<int, T>) for the runtime type t; throws for unknown types.
template <class F>
void dispatchType(QType t, F&& f) {
  switch (t) {
    case QType::F32:
      f(std::integral_constant<int, 0>{});
      return;
    case QType::F16:
      f(std::integral_constant<int, 1>{});
      return;
    case QType::Q4_0:
      f(std::integral_constant<int, 2>{});
      return;
    case QType::Q4_1:
      f(std::integral_constant<int, 3>{});
      return;
    case QType::Q5_0:
      f(std::integral_constant<int, 6>{});
      return;
    case QType::Q5_1:
      f(std::integral_constant<int, 7>{});
      return;
    case QType::Q8_0:
      f(std::integral_constant<int, 8>{});
      return;
    case QType::Q2_K:
      f(std::integral_constant<int, 10>{});
      return;
    case QType::Q3_K:
      f(std::integral_constant<int, 11>{});
      return;
    case QType::Q4_K:
      f(std::integral_constant<int, 12>{});
      return;
    case QType::Q5_K:
      f(std::integral_constant<int, 13>{});
      return;
    case QType::Q6_K:
      f(std::integral_constant<int, 14>{});
      return;
    case QType::IQ4_NL:
      f(std::integral_constant<int, 20>{});
      return;
    case QType::IQ4_XS:
      f(std::integral_constant<int, 23>{});
      return;
    case QType::BF16:
      f(std::integral_constant<int, 30>{});
      return;
    case QType::MXFP4:
      f(std::integral_constant<int, 39>{});
      return;
  }
  throw std::runtime_error("CUDA: unsupported weight type " + std::to_string(int(t)));
}

// Host launchers (dequant.cu). rowBytes = bytes of one row of the weight.
// dst[r - rowBegin][c] = w[r][c] for r in [rowBegin, rowEnd), as f32 or bf16.
void dequantRowsF32(QType t, const uint8_t* w, size_t rowBytes, int64_t rowBegin, int64_t rowEnd,
                    int64_t cols, float* dst, cudaStream_t s);
void dequantRowsBf16(QType t, const uint8_t* w, size_t rowBytes, int64_t rowBegin, int64_t rowEnd,
                     int64_t cols, __nv_bfloat16* dst, cudaStream_t s);
// out[i][:] = w[ids[i]][:] (ids in device memory, already bounds-checked).
void gatherWeightRows(QType t, const uint8_t* w, size_t rowBytes, const int32_t* ids, int n,
                      int64_t cols, float* out, cudaStream_t s);
// y[r] = sum_c w[r][c] * x[c], f32 accumulation (generation, n == 1).
void matVec(QType t, const uint8_t* w, size_t rowBytes, int64_t rows, int64_t cols, const float* x,
            float* y, cudaStream_t s);
// f32 -> bf16, round to nearest even.
void toBf16(const float* x, __nv_bfloat16* y, size_t count, cudaStream_t s);

}  // namespace ll::kern::cuda
