// Type table and half-precision conversions, checked exhaustively against the CPU's F16C
// instructions (an independent implementation) where the CPU has them.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/quant.h"
#include "lltest.h"

using namespace ll::kern;

namespace {

__attribute__((target("f16c"))) float hwHalfToFloat(uint16_t h) {
  return _cvtsh_ss(h);
}
__attribute__((target("f16c"))) uint16_t hwFloatToHalf(float f) {
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace

LL_TEST(typeTable) {
  struct Row {
    uint32_t id;
    const char* name;
    int block, size;
  };
  // Sizes of ggml's block structs (sizeof(block_q4_K) etc.).
  const Row rows[] = {{0, "F32", 1, 4},       {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
                      {3, "Q4_1", 32, 20},    {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
                      {8, "Q8_0", 32, 34},    {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},
                      {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},   {14, "Q6_K", 256, 210},
                      {20, "IQ4_NL", 32, 18}, {23, "IQ4_XS", 256, 136}, {30, "BF16", 1, 2},
                      {39, "MXFP4", 32, 17}};
  for (const Row& r : rows) {
    auto t = qtypeInfo(r.id);
    QVERIFY2(t.has_value(), r.name);
    QCOMPARE(std::string(t->name), std::string(r.name));
    QCOMPARE(t->blockSize, r.block);
    QCOMPARE(t->typeSize, r.size);
    QCOMPARE(rowBytes(t->type, 4 * r.block), size_t(4 * r.size));
  }
  for (uint32_t bad : {4u, 5u, 9u, 15u, 16u, 21u, 22u, 29u, 31u, 40u, 1000u, 0xFFFFFFFFu})
    QVERIFY(!qtypeInfo(bad));
}

LL_TEST(fp16ToFp32Exhaustive) {
  if (!__builtin_cpu_supports("f16c")) QSKIP("CPU lacks F16C");
  for (uint32_t h = 0; h < 65536; ++h) {
    float ours = fp16ToFp32(uint16_t(h));
    float hw = hwHalfToFloat(uint16_t(h));
    if (bits(ours) != bits(hw))
      QFAIL("fp16ToFp32 differs from F16C at half 0x" + std::to_string(h));
  }
}

LL_TEST(fp32ToFp16MatchesHardware) {
  if (!__builtin_cpu_supports("f16c")) QSKIP("CPU lacks F16C");
  // Every half and its neighbours (ties and just off ties), plus random floats of every magnitude.
  for (uint32_t h = 0; h < 65536; ++h) {
    uint32_t b = bits(hwHalfToFloat(uint16_t(h)));
    for (int64_t d = -4097; d <= 4097; d += 1024) {
      uint32_t v = uint32_t(int64_t(b) + d);
      float f;
      std::memcpy(&f, &v, 4);
      if (std::isnan(f)) continue;
      QCOMPARE(fp32ToFp16(f), hwFloatToHalf(f));
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000000; ++i) {
    uint32_t v = rng();
    float f;
    std::memcpy(&f, &v, 4);
    if (std::isnan(f)) continue;
    QCOMPARE(fp32ToFp16(f), hwFloatToHalf(f));
  }
}

LL_TEST(bf16) {
  QCOMPARE(bf16ToFp32(0x3F80), 1.0f);
  QCOMPARE(bf16ToFp32(0xC000), -2.0f);
  QCOMPARE(bits(bf16ToFp32(0x7F80)), 0x7F800000u);
  QCOMPARE(bits(bf16ToFp32(0x0001)), 0x00010000u);
}

LL_TEST(dequantizeKnownBlocks) {
  // Q8_0: d = 0.5 (half 0x3800), q = -16..15 -> q * 0.5
  uint8_t q8[34];
  q8[0] = 0x00;
  q8[1] = 0x38;
  for (int i = 0; i < 32; ++i) q8[2 + i] = uint8_t(int8_t(i - 16));
  float out[32];
  dequantizeRow(QType::Q8_0, q8, out, 32);
  for (int i = 0; i < 32; ++i) QCOMPARE(out[i], (i - 16) * 0.5f);
  // Q4_0: d = 2, nibble j low -> element j, high -> element j + 16, value (nibble - 8) * d
  uint8_t q4[18] = {0x00, 0x40};
  for (int j = 0; j < 16; ++j) q4[2 + j] = uint8_t(j | ((15 - j) << 4));
  dequantizeRow(QType::Q4_0, q4, out, 32);
  for (int j = 0; j < 16; ++j) {
    QCOMPARE(out[j], (j - 8) * 2.0f);
    QCOMPARE(out[j + 16], (15 - j - 8) * 2.0f);
  }
  // IQ4_NL: d = 0.5, Q4_0's nibble order, value kvalues_iq4nl[nibble] * d
  const int8_t iq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  uint8_t nl[18] = {0x00, 0x38};
  for (int j = 0; j < 16; ++j) nl[2 + j] = uint8_t(j | ((15 - j) << 4));
  dequantizeRow(QType::IQ4_NL, nl, out, 32);
  for (int j = 0; j < 16; ++j) {
    QCOMPARE(out[j], iq4[j] * 0.5f);
    QCOMPARE(out[j + 16], iq4[15 - j] * 0.5f);
  }
  // IQ4_XS: d = 2; sub-block ib has the 6-bit scale ls = ib + 28 (low 4 bits in scales_l, high 2
  // in scales_h), value (ls - 32) * d * kvalues_iq4nl[nibble]; nibbles j / 15 - j as above.
  uint8_t xs[136] = {0x00, 0x40};
  uint16_t scalesH = 0;
  for (int ib = 0; ib < 8; ++ib) {
    const int ls = ib + 28;
    xs[4 + ib / 2] |= uint8_t((ls & 0xF) << (4 * (ib % 2)));
    scalesH |= uint16_t((ls >> 4) << (2 * ib));
    for (int j = 0; j < 16; ++j) xs[8 + 16 * ib + j] = uint8_t(j | ((15 - j) << 4));
  }
  std::memcpy(xs + 2, &scalesH, 2);
  float out256[256];
  dequantizeRow(QType::IQ4_XS, xs, out256, 256);
  for (int ib = 0; ib < 8; ++ib)
    for (int j = 0; j < 16; ++j) {
      QCOMPARE(out256[32 * ib + j], float(ib - 4) * 2.0f * iq4[j]);
      QCOMPARE(out256[32 * ib + j + 16], float(ib - 4) * 2.0f * iq4[15 - j]);
    }
  // MXFP4: e = 130 -> scale 2^(130 - 128) = 4 (half of the E8M0 value 2^3), codes 2 * e2m1:
  // 0 0.5 1 1.5 2 3 4 6 and their negatives, doubled -> 0 1 2 3 4 6 8 12.
  const int8_t e2m1x2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  uint8_t mx[17] = {130};
  for (int j = 0; j < 16; ++j) mx[1 + j] = uint8_t(j | ((15 - j) << 4));
  dequantizeRow(QType::MXFP4, mx, out, 32);
  for (int j = 0; j < 16; ++j) {
    QCOMPARE(out[j], e2m1x2[j] * 4.0f);
    QCOMPARE(out[j + 16], e2m1x2[15 - j] * 4.0f);
  }
  QCOMPARE(bits(out[8]), 0u);  // code 8 is -0 in e2m1, but the table (as ggml's) gives +0
  // E8M0 edges: 0 and 1 are the subnormals 2^-128 and 2^-127, 127 is 0.5, 255 is 2^127.
  QCOMPARE(bits(e8m0ToFp32Half(0)), 0x00200000u);
  QCOMPARE(bits(e8m0ToFp32Half(1)), 0x00400000u);
  QCOMPARE(e8m0ToFp32Half(2), std::ldexp(1.0f, -126));
  QCOMPARE(e8m0ToFp32Half(127), 0.5f);
  QCOMPARE(e8m0ToFp32Half(128), 1.0f);
  QCOMPARE(e8m0ToFp32Half(255), std::ldexp(1.0f, 127));
  // F16 / BF16 rows
  uint16_t h[2] = {0x3C00, 0xBC00};
  dequantizeRow(QType::F16, h, out, 2);
  QCOMPARE(out[0], 1.0f);
  QCOMPARE(out[1], -1.0f);
}

LL_TEST_MAIN("tst_quant")
