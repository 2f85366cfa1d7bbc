// ggml tensor type table, fp16/bf16 conversion and row dequantization, bit-exact with ggml's C
// dequantize_row_* (same block layouts, same float operation order, no fused multiply-add).
#include "kernels/quant.h"

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

// ggml's reference is evaluated as separate multiply and add; a contracted FMA would round
// differently and break bit-exactness.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace ll::kern {

namespace {

constexpr int kQK = 32;    // QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0
constexpr int kQKK = 256;  // QK_K

constexpr std::array<QTypeInfo, 16> kTypes = {{
    {QType::F32, "F32", 1, 4},
    {QType::F16, "F16", 1, 2},
    {QType::Q4_0, "Q4_0", kQK, 2 + kQK / 2},
    {QType::Q4_1, "Q4_1", kQK, 4 + kQK / 2},
    {QType::Q5_0, "Q5_0", kQK, 2 + 4 + kQK / 2},
    {QType::Q5_1, "Q5_1", kQK, 4 + 4 + kQK / 2},
    {QType::Q8_0, "Q8_0", kQK, 2 + kQK},
    {QType::Q2_K, "Q2_K", kQKK, kQKK / 16 + kQKK / 4 + 4},
    {QType::Q3_K, "Q3_K", kQKK, kQKK / 8 + kQKK / 4 + 12 + 2},
    {QType::Q4_K, "Q4_K", kQKK, 4 + 12 + kQKK / 2},
    {QType::Q5_K, "Q5_K", kQKK, 4 + 12 + kQKK / 8 + kQKK / 2},
    {QType::Q6_K, "Q6_K", kQKK, kQKK / 2 + kQKK / 4 + kQKK / 16 + 2},
    {QType::IQ4_NL, "IQ4_NL", kQK, 2 + kQK / 2},
    {QType::IQ4_XS, "IQ4_XS", kQKK, 2 + 2 + kQKK / 64 + kQKK / 2},
    {QType::BF16, "BF16", 1, 2},
    {QType::MXFP4, "MXFP4", kQK, 1 + kQK / 2},
}};

inline uint16_t ld16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline float h2f(const uint8_t* p) {
  return fp16ToFp32(ld16(p));
}

void deqQ4_0(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 18, y += kQK) {
    const float d = h2f(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = (qs[j] & 0x0F) - 8;
      const int x1 = (qs[j] >> 4) - 8;
      y[j] = x0 * d;
      y[j + kQK / 2] = x1 * d;
    }
  }
}

void deqQ4_1(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 20, y += kQK) {
    const float d = h2f(b);
    const float m = h2f(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = qs[j] & 0x0F;
      const int x1 = qs[j] >> 4;
      y[j] = x0 * d + m;
      y[j + kQK / 2] = x1 * d + m;
    }
  }
}

void deqQ5_0(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 22, y += kQK) {
    const float d = h2f(b);
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t xh0 = ((qh >> (j + 0)) << 4) & 0x10;
      const uint8_t xh1 = ((qh >> (j + 12))) & 0x10;
      const int32_t x0 = ((qs[j] & 0x0F) | xh0) - 16;
      const int32_t x1 = ((qs[j] >> 4) | xh1) - 16;
      y[j] = x0 * d;
      y[j + kQK / 2] = x1 * d;
    }
  }
}

void deqQ5_1(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 24, y += kQK) {
    const float d = h2f(b);
    const float m = h2f(b + 2);
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < kQK / 2; ++j) {
      const uint8_t xh0 = ((qh >> (j + 0)) << 4) & 0x10;
      const uint8_t xh1 = ((qh >> (j + 12))) & 0x10;
      const int x0 = (qs[j] & 0x0F) | xh0;
      const int x1 = (qs[j] >> 4) | xh1;
      y[j] = x0 * d + m;
      y[j + kQK / 2] = x1 * d + m;
    }
  }
}

void deqQ8_0(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 34, y += kQK) {
    const float d = h2f(b);
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int j = 0; j < kQK; ++j) y[j] = qs[j] * d;
  }
}

// block_q2_K: scales[16], qs[64], d, dmin
void deqQ2_K(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 84) {
    const uint8_t* scales = b;
    const uint8_t* q = b + 16;
    const float d = h2f(b + 80);
    const float min = h2f(b + 82);
    int is = 0;
    for (int n = 0; n < kQKK; n += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        uint8_t sc = scales[is++];
        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l] >> shift) & 3)) - ml;
        sc = scales[is++];
        dl = d * (sc & 0xF);
        ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3)) - ml;
        shift += 2;
      }
      q += 32;
    }
  }
}

// block_q3_K: hmask[32], qs[64], scales[12], d
void deqQ3_K(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 110) {
    const uint8_t* hm = b;
    const uint8_t* q = b + 32;
    const float dAll = h2f(b + 108);
    int8_t scales[16];
    unpackQ3KScales(b + 96, scales);
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < kQKK; n += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        float dl = dAll * (scales[is++] - 32);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * ((int8_t)((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
        dl = dAll * (scales[is++] - 32);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
        shift += 2;
        m <<= 1;
      }
      q += 32;
    }
  }
}

// block_q4_K: d, dmin, scales[12], qs[128]
void deqQ4_K(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 144) {
    const float d = h2f(b);
    const float min = h2f(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < kQKK; j += 64) {
      scaleMinK4(is + 0, scales, sc, m);
      const float d1 = d * sc, m1 = min * m;
      scaleMinK4(is + 1, scales, sc, m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}

// block_q5_K: d, dmin, scales[12], qh[32], qs[128]
void deqQ5_K(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 176) {
    const float d = h2f(b);
    const float min = h2f(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* ql = b + 48;
    int is = 0;
    uint8_t sc, m;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < kQKK; j += 64) {
      scaleMinK4(is + 0, scales, sc, m);
      const float d1 = d * sc, m1 = min * m;
      scaleMinK4(is + 1, scales, sc, m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      is += 2;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

// block_q6_K: ql[128], qh[64], scales[16] (int8), d
void deqQ6_K(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 210) {
    const float d = h2f(b + 208);
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    for (int n = 0; n < kQKK; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

// block_iq4_nl: d, qs[16]; like Q4_0 (low nibbles -> first half) with a codebook instead of q - 8.
void deqIQ4_NL(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 18, y += kQK) {
    const float d = h2f(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * float(kIq4nlValues[qs[j] & 0xF]);
      y[j + kQK / 2] = d * float(kIq4nlValues[qs[j] >> 4]);
    }
  }
}

// block_iq4_xs: d, scales_h (u16), scales_l[4], qs[128]; eight 32-element sub-blocks, each with a
// 6-bit scale (low 4 bits from scales_l, high 2 from scales_h) biased by 32.
void deqIQ4_XS(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 136) {
    const float d = h2f(b);
    const uint16_t scalesH = ld16(b + 2);
    const uint8_t* scalesL = b + 4;
    const uint8_t* qs = b + 8;
    for (int ib = 0; ib < kQKK / 32; ++ib, y += 32, qs += 16) {
      const int ls =
          ((scalesL[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scalesH >> (2 * ib)) & 3) << 4);
      const float dl = d * float(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * float(kIq4nlValues[qs[j] & 0xF]);
        y[j + 16] = dl * float(kIq4nlValues[qs[j] >> 4]);
      }
    }
  }
}

// block_mxfp4: e (E8M0), qs[16]; Q4_0's nibble order, value = doubled e2m1 code * 2^(e - 128).
void deqMXFP4(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 17, y += kQK) {
    const float d = e8m0ToFp32Half(b[0]);
    const uint8_t* qs = b + 1;
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = float(kMxfp4Values[qs[j] & 0xF]) * d;
      y[j + kQK / 2] = float(kMxfp4Values[qs[j] >> 4]) * d;
    }
  }
}

}  // namespace

std::optional<QTypeInfo> qtypeInfo(uint32_t rawType) {
  for (const QTypeInfo& t : kTypes)
    if (static_cast<uint32_t>(t.type) == rawType) return t;
  return std::nullopt;
}

QTypeInfo qtypeInfo(QType type) {
  auto t = qtypeInfo(static_cast<uint32_t>(type));
  if (!t)
    throw std::invalid_argument("unknown QType " + std::to_string(static_cast<uint32_t>(type)));
  return *t;
}

std::string_view qtypeName(QType type) {
  auto t = qtypeInfo(static_cast<uint32_t>(type));
  return t ? t->name : std::string_view("?");
}

size_t rowBytes(QType type, int64_t n) {
  const QTypeInfo t = qtypeInfo(type);
  return static_cast<size_t>(n / t.blockSize) * static_cast<size_t>(t.typeSize);
}

void scaleMinK4(int j, const uint8_t* q, uint8_t& d, uint8_t& m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

void unpackQ3KScales(const uint8_t* packed, int8_t* scales) {
  constexpr uint32_t kmask1 = 0x03030303;
  constexpr uint32_t kmask2 = 0x0f0f0f0f;
  uint32_t aux[4];
  std::memcpy(aux, packed, 12);
  const uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  std::memcpy(scales, aux, 16);
}

float fp16ToFp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0x1F) {
    // Inf, or NaN with its payload kept and quieted as the F16C instruction does.
    bits = sign | 0x7F800000u | (mant << 13) | (mant ? 0x00400000u : 0u);
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      // Subnormal half: normalise into a float (always representable exactly).
      int e = -1;
      do {
        mant <<= 1;
        ++e;
      } while ((mant & 0x400) == 0);
      mant &= 0x3FF;
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | (mant << 13);
    }
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32ToFp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t absx = x & 0x7FFFFFFF;
  if (absx > 0x7F800000) return sign | 0x7E00 | static_cast<uint16_t>((absx >> 13) & 0x3FF);  // NaN
  if (absx >= 0x477FF000) return sign | 0x7C00;  // rounds to >= 65520 -> Inf
  if (absx < 0x38800000) {
    // Result is subnormal (or zero): round-to-nearest-even of absx * 2^24.
    if (absx < 0x33000000) return sign;  // below half of the smallest subnormal
    const uint32_t e = absx >> 23;
    const uint32_t m = (absx & 0x7FFFFF) | 0x800000;
    const uint32_t shift = 126 - e;  // 14 + (113 - e)
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t r = absx - 0x38000000;  // rebias exponent 127 -> 15
  const uint32_t rem = r & 0x1FFF;
  r >>= 13;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
  return sign | static_cast<uint16_t>(r);
}

float e8m0ToFp32Half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : uint32_t(e - 1) << 23;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16ToFp32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void dequantizeRow(QType type, const void* src, float* dst, int64_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(src);
  switch (type) {
    case QType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case QType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16ToFp32(ld16(b + 2 * i));
      return;
    case QType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16ToFp32(ld16(b + 2 * i));
      return;
    case QType::Q4_0:
      deqQ4_0(b, dst, n / kQK);
      return;
    case QType::Q4_1:
      deqQ4_1(b, dst, n / kQK);
      return;
    case QType::Q5_0:
      deqQ5_0(b, dst, n / kQK);
      return;
    case QType::Q5_1:
      deqQ5_1(b, dst, n / kQK);
      return;
    case QType::Q8_0:
      deqQ8_0(b, dst, n / kQK);
      return;
    case QType::Q2_K:
      deqQ2_K(b, dst, n / kQKK);
      return;
    case QType::Q3_K:
      deqQ3_K(b, dst, n / kQKK);
      return;
    case QType::Q4_K:
      deqQ4_K(b, dst, n / kQKK);
      return;
    case QType::Q5_K:
      deqQ5_K(b, dst, n / kQKK);
      return;
    case QType::Q6_K:
      deqQ6_K(b, dst, n / kQKK);
      return;
    case QType::IQ4_NL:
      deqIQ4_NL(b, dst, n / kQK);
      return;
    case QType::IQ4_XS:
      deqIQ4_XS(b, dst, n / kQKK);
      return;
    case QType::MXFP4:
      deqMXFP4(b, dst, n / kQK);
      return;
  }
  throw std::invalid_argument("dequantizeRow: unsupported type " +
                              std::to_string(static_cast<uint32_t>(type)));
}

}  // namespace ll::kern
