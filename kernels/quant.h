// GGML tensor types (ids as in GGUF files), their block layout, and dequantization of one row to f32.
// Lives in kernels/ because every backend dequantizes weight blocks on the fly; runtime/formats uses
// the same ids when it reads a file.
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
  BF16 = 30,
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

}  // namespace ll::kern
