// Fast math mode: the int8 form of each quantized weight type, w = d_g * q + m_g exactly as
// dequantizeRow computes it, with q in int8 range and f32 scale d_g / min m_g per group of 16 or
// 32 weights. The panel packers (AVX-512 and scalar) both decode rows through these functions.
#include <cstring>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/quant.h"

namespace ll::kern::fast {
namespace {

float halfAt(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16ToFp32(h);
}

// Each decoder writes one block: q + 128 as bytes, then its groups' d (and m where the type has
// a min). Blocks of 32 weights unless noted.

void decQ8_0(const uint8_t* b, uint8_t* q, float* d, float*) {
  for (int j = 0; j < 32; ++j) q[j] = uint8_t(int(int8_t(b[2 + j])) + 128);
  d[0] = halfAt(b);
}

// Q4_0, Q4_1, IQ4_NL and MXFP4 share the nibble order: low nibbles are k 0..15, high 16..31.
template <typename Value>
void nibbles(const uint8_t* qs, uint8_t* q, Value value) {
  for (int j = 0; j < 16; ++j) {
    q[j] = uint8_t(value(qs[j] & 0x0f) + 128);
    q[j + 16] = uint8_t(value(qs[j] >> 4) + 128);
  }
}

void decQ4_0(const uint8_t* b, uint8_t* q, float* d, float*) {
  nibbles(b + 2, q, [](int v) { return v - 8; });
  d[0] = halfAt(b);
}

void decQ4_1(const uint8_t* b, uint8_t* q, float* d, float* m) {
  nibbles(b + 4, q, [](int v) { return v; });
  d[0] = halfAt(b);
  m[0] = halfAt(b + 2);
}

void decIQ4_NL(const uint8_t* b, uint8_t* q, float* d, float*) {
  nibbles(b + 2, q, [](int v) { return int(kIq4nlValues[v]); });
  d[0] = halfAt(b);
}

void decMXFP4(const uint8_t* b, uint8_t* q, float* d, float*) {
  nibbles(b + 1, q, [](int v) { return int(kMxfp4Values[v]); });
  d[0] = e8m0ToFp32Half(b[0]);
}

// Q5_0 / Q5_1: the fifth bits of k 0..15 are qh bits 0..15, of k 16..31 bits 16..31.
void fiveBits(const uint8_t* qhp, const uint8_t* qs, int offset, uint8_t* q) {
  uint32_t qh;
  std::memcpy(&qh, qhp, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = uint8_t(((qs[j] & 0x0f) | (((qh >> j) << 4) & 0x10)) - offset + 128);
    q[j + 16] = uint8_t(((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - offset + 128);
  }
}

void decQ5_0(const uint8_t* b, uint8_t* q, float* d, float*) {
  fiveBits(b + 2, b + 6, 16, q);
  d[0] = halfAt(b);
}

void decQ5_1(const uint8_t* b, uint8_t* q, float* d, float* m) {
  fiveBits(b + 4, b + 8, 0, q);
  d[0] = halfAt(b);
  m[0] = halfAt(b + 2);
}

// Q4_K / Q5_K: 256 weights, 8 groups of 32, d_g = d * scale, m_g = -(dmin * min) (dequantizeRow
// computes d_g * q - dmin * min, the same value).
void kScalesMins(const uint8_t* b, float* d, float* m) {
  const float dAll = halfAt(b), dMin = halfAt(b + 2);
  for (int g = 0; g < 8; ++g) {
    uint8_t sc, mn;
    scaleMinK4(g, b + 4, sc, mn);
    d[g] = dAll * sc;
    m[g] = -(dMin * mn);
  }
}

void decQ4_K(const uint8_t* b, uint8_t* q, float* d, float* m) {
  kScalesMins(b, d, m);
  const uint8_t* qs = b + 16;
  for (int c = 0; c < 4; ++c, qs += 32, q += 64)
    for (int l = 0; l < 32; ++l) {
      q[l] = uint8_t((qs[l] & 0x0f) + 128);
      q[l + 32] = uint8_t((qs[l] >> 4) + 128);
    }
}

void decQ5_K(const uint8_t* b, uint8_t* q, float* d, float* m) {
  kScalesMins(b, d, m);
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + 48;
  for (int c = 0; c < 4; ++c, ql += 32, q += 64) {
    const int u1 = 1 << (2 * c), u2 = 2 << (2 * c);
    for (int l = 0; l < 32; ++l) {
      q[l] = uint8_t((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0) + 128);
      q[l + 32] = uint8_t((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0) + 128);
    }
  }
}

// Q6_K: 256 weights, 16 groups of 16; group g's scale is sc[g], q - 32 in -32..31.
void decQ6_K(const uint8_t* b, uint8_t* q, float* d, float*) {
  const float dAll = halfAt(b + 208);
  const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
  for (int g = 0; g < 16; ++g) d[g] = dAll * sc[g];
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  for (int c = 0; c < 2; ++c, ql += 64, qh += 32, q += 128)
    for (int l = 0; l < 32; ++l) {
      q[l] = uint8_t(((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32 + 128);
      q[l + 32] = uint8_t(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32 + 128);
      q[l + 64] = uint8_t(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32 + 128);
      q[l + 96] = uint8_t(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32 + 128);
    }
}

// Q2_K: 256 weights, 16 groups of 16 in file order; 4-bit scale and min per group.
void decQ2_K(const uint8_t* b, uint8_t* q, float* d, float* m) {
  const float dAll = halfAt(b + 80), dMin = halfAt(b + 82);
  for (int g = 0; g < 16; ++g) {
    d[g] = dAll * (b[g] & 0x0f);
    m[g] = -(dMin * (b[g] >> 4));
  }
  const uint8_t* qs = b + 16;
  for (int c = 0; c < 2; ++c, qs += 32)
    for (int j = 0; j < 4; ++j, q += 32)
      for (int l = 0; l < 32; ++l) q[l] = uint8_t(((qs[l] >> (2 * j)) & 3) + 128);
}

// Q3_K: 256 weights, 16 groups of 16; q = low 2 bits - (high bit clear ? 4 : 0), in -4..3.
void decQ3_K(const uint8_t* b, uint8_t* q, float* d, float*) {
  const float dAll = halfAt(b + 108);
  int8_t sc[16];
  unpackQ3KScales(b + 96, sc);
  for (int g = 0; g < 16; ++g) d[g] = dAll * (sc[g] - 32);
  const uint8_t* hm = b;
  const uint8_t* qs = b + 32;
  int bit = 0;
  for (int c = 0; c < 2; ++c, qs += 32)
    for (int j = 0; j < 4; ++j, ++bit, q += 32)
      for (int l = 0; l < 32; ++l)
        q[l] = uint8_t(((qs[l] >> (2 * j)) & 3) - ((hm[l] >> bit) & 1 ? 0 : 4) + 128);
}

// IQ4_XS: 256 weights, 8 groups of 32 with a 6-bit scale biased by 32; codebook values.
void decIQ4_XS(const uint8_t* b, uint8_t* q, float* d, float*) {
  const float dAll = halfAt(b);
  uint16_t scalesH;
  std::memcpy(&scalesH, b + 2, 2);
  const uint8_t* qs = b + 8;
  for (int g = 0; g < 8; ++g, qs += 16, q += 32) {
    const int ls = ((b[4 + g / 2] >> (4 * (g % 2))) & 0x0f) | (((scalesH >> (2 * g)) & 3) << 4);
    d[g] = dAll * float(ls - 32);
    nibbles(qs, q, [](int v) { return int(kIq4nlValues[v]); });
  }
}

using Decoder = void (*)(const uint8_t*, uint8_t*, float*, float*);

struct Form {
  Decoder decode = nullptr;
  int blockWeights = 32, blockBytes = 0;
  Int8Layout layout;
};

Form formOf(QType type) {
  switch (type) {
    case QType::Q8_0:
      return {decQ8_0, 32, 34, {32, false}};
    case QType::Q4_0:
      return {decQ4_0, 32, 18, {32, false}};
    case QType::Q4_1:
      return {decQ4_1, 32, 20, {32, true}};
    case QType::Q5_0:
      return {decQ5_0, 32, 22, {32, false}};
    case QType::Q5_1:
      return {decQ5_1, 32, 24, {32, true}};
    case QType::IQ4_NL:
      return {decIQ4_NL, 32, 18, {32, false}};
    case QType::MXFP4:
      return {decMXFP4, 32, 17, {32, false}};
    case QType::Q4_K:
      return {decQ4_K, 256, 144, {32, true}};
    case QType::Q5_K:
      return {decQ5_K, 256, 176, {32, true}};
    case QType::IQ4_XS:
      return {decIQ4_XS, 256, 136, {32, false}};
    case QType::Q6_K:
      return {decQ6_K, 256, 210, {16, false}};
    case QType::Q3_K:
      return {decQ3_K, 256, 110, {16, false}};
    case QType::Q2_K:
      return {decQ2_K, 256, 84, {16, true}};
    default:
      return {};
  }
}

}  // namespace

bool hasInt8Form(QType type) {
  return formOf(type).decode != nullptr;
}

Int8Layout int8Layout(QType type) {
  return formOf(type).layout;
}

void int8DecodeRow(QType type, const uint8_t* row, int64_t cols, uint8_t* q, float* d, float* m) {
  const Form f = formOf(type);
  const int groupsPerBlock = f.blockWeights / f.layout.group;
  for (int64_t b = 0; b < cols / f.blockWeights; ++b)
    f.decode(row + size_t(b) * f.blockBytes, q + b * f.blockWeights, d + b * groupsPerBlock,
             f.layout.mins ? m + b * groupsPerBlock : nullptr);
}

}  // namespace ll::kern::fast
