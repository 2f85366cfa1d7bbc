// GGML tensor types (ids as in GGUF files), their block layout, and dequantization of one row to
// f32. Lives in kernels/ because every backend dequantizes weight blocks on the fly;
// runtime/formats uses the same ids when it reads a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ll::kern {

enum class QType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  IQ4_NL = 20,
  IQ4_XS = 23,
  BF16 = 30,
  MXFP4 = 39,
};

struct QTypeInfo {
  QType type;
  std::string_view name;  // "F32", "Q4_K", ... as ggml names them
  int blockSize;          // elements per block
  int typeSize;           // bytes per block
};

// nullopt for ids we do not support (the caller names the file and the id in its error).
std::optional<QTypeInfo> qtypeInfo(uint32_t rawType);
QTypeInfo qtypeInfo(QType type);
std::string_view qtypeName(QType type);

// Bytes of a row of n elements; n must be a multiple of the block size (checked by the caller).
size_t rowBytes(QType type, int64_t n);

// Dequantizes n elements (a multiple of the block size) from src into dst, bit-exact with ggml's
// C to_float.
void dequantizeRow(QType type, const void* src, float* dst, int64_t n);

float fp16ToFp32(uint16_t h);
uint16_t fp32ToFp16(float f);
float bf16ToFp32(uint16_t h);

// MXFP4's shared scale: the E8M0 exponent byte e as 2^(e - 128), half of the 2^(e - 127) it
// encodes, because kMxfp4Values holds the e2m1 values doubled; e 0 and 1 give the subnormals
// 2^-128 and 2^-127 (no NaN for 255). The same bits as ggml's GGML_E8M0_TO_FP32_HALF.
float e8m0ToFp32Half(uint8_t e);

// Q4_K / Q5_K: the 6-bit scale d and min m of sub-block j (0..7) from the block's packed 12-byte
// array (ggml's get_scale_min_k4).
void scaleMinK4(int j, const uint8_t* q, uint8_t& d, uint8_t& m);
// Q3_K: the sixteen 6-bit sub-block scales (still biased by 32) from the block's packed 12 bytes.
void unpackQ3KScales(const uint8_t* packed, int8_t* scales);

// The 4-bit non-linear codebooks, indexed by a nibble: IQ4_NL / IQ4_XS levels (ggml's
// kvalues_iq4nl) and the e2m1 values of MXFP4 times two (ggml's kvalues_mxfp4).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};
inline constexpr int8_t kMxfp4Values[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                            0, -1, -2, -3, -4, -6, -8, -12};

}  // namespace ll::kern
