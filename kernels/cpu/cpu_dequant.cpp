#include "kernels/cpu/cpu_dequant.h"

#include <immintrin.h>

#include <cstring>

namespace ll::kern {
namespace {

constexpr int kQKK = 256;

// F16C when available: identical to fp16ToFp32 for all 65536 inputs (tst_quant checks that
// exhaustively) and much cheaper than the portable conversion.
float half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return fp16ToFp32(h);
#endif
}

void f16Row(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
  for (; i < n; ++i) dst[i] = fp16ToFp32(src[i]);
}

void bf16Row(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = uint32_t(src[i]) << 16;
    std::memcpy(dst + i, &bits, 4);
  }
}

// ggml dequantize_row_q6_K computes y = d * sc * q as (d * sc) * q; the 16-element groups below
// keep that order with s = d * sc hoisted, so results are identical.
void q6K(const uint8_t* b, float* y, int64_t nb) {
  uint8_t blk[210];  // a local copy: stores to y can then not alias the bytes (vectorises)
  for (int64_t i = 0; i < nb; ++i, b += 210) {
    std::memcpy(blk, b, 210);
    const float d = half(blk + 208);
    const uint8_t* ql = blk;
    const uint8_t* qh = blk + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(blk + 192);
    for (int n = 0; n < kQKK; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int g = 0; g < 2; ++g) {  // l in [16g, 16g + 16)
        const float s1 = d * sc[g + 0], s2 = d * sc[g + 2], s3 = d * sc[g + 4], s4 = d * sc[g + 6];
        const uint8_t* a = ql + 16 * g;
        const uint8_t* c = ql + 32 + 16 * g;
        const uint8_t* h = qh + 16 * g;
        float* o = y + 16 * g;
        for (int l = 0; l < 16; ++l) {
          const int q1 = int((a[l] & 0xF) | ((h[l] & 3) << 4)) - 32;
          const int q2 = int((c[l] & 0xF) | (((h[l] >> 2) & 3) << 4)) - 32;
          const int q3 = int((a[l] >> 4) | (((h[l] >> 4) & 3) << 4)) - 32;
          const int q4 = int((c[l] >> 4) | (((h[l] >> 6) & 3) << 4)) - 32;
          o[l] = s1 * float(q1);
          o[l + 32] = s2 * float(q2);
          o[l + 64] = s3 * float(q3);
          o[l + 96] = s4 * float(q4);
        }
      }
    }
  }
}

// ggml dequantize_row_q3_K: y = dl * q with dl = d * (scale - 32), q = 2 low bits - (hmask ? 0 :
// 4).
void q3K(const uint8_t* b, float* y, int64_t nb) {
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint8_t blk[110];  // a local copy: stores to y can then not alias the bytes (vectorises)
  for (int64_t i = 0; i < nb; ++i, b += 110) {
    std::memcpy(blk, b, 110);
    const uint8_t* hm = blk;
    const uint8_t* q = blk + 32;
    const float dAll = half(b + 108);
    uint32_t aux[4];
    std::memcpy(aux, b + 96, 12);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    int8_t scales[16];
    std::memcpy(scales, aux, 16);
    int is = 0;
    for (int n = 0; n < kQKK; n += 128, q += 32) {
      for (int j = 0; j < 4; ++j) {
        const int shift = 2 * j;
        const uint8_t m = uint8_t(1u << (4 * (n / 128) + j));
        for (int half16 = 0; half16 < 2; ++half16) {
          const float dl = dAll * float(scales[is++] - 32);
          const uint8_t* qq = q + 16 * half16;
          const uint8_t* hh = hm + 16 * half16;
          for (int l = 0; l < 16; ++l) {
            const int v = int((qq[l] >> shift) & 3) - ((hh[l] & m) ? 0 : 4);
            y[l] = dl * float(v);
          }
          y += 16;
        }
      }
    }
  }
}

// ggml dequantize_row_q4_0: y = (nibble - 8) * d.
void q40(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 18, y += 32) {
    const float d = half(b);
    uint8_t qs[16];  // a local copy: stores to y can then not alias the bytes (vectorises)
    std::memcpy(qs, b + 2, 16);
    for (int j = 0; j < 16; ++j) y[j] = float(int(qs[j] & 0x0F) - 8) * d;
    for (int j = 0; j < 16; ++j) y[j + 16] = float(int(qs[j] >> 4) - 8) * d;
  }
}

// ggml dequantize_row_q8_0: y = q * d (the precise panel GEMM dequantizes every weight panel).
void q80(const uint8_t* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, b += 34, y += 32) {
    const float d = half(b);
    int8_t qs[32];  // a local copy: stores to y can then not alias the bytes (vectorises)
    std::memcpy(qs, b + 2, 32);
    for (int j = 0; j < 32; ++j) y[j] = float(qs[j]) * d;
  }
}

}  // namespace

void cpuDequantizeRow(QType type, const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const uint8_t*>(src);
  switch (type) {
    case QType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      break;
    case QType::F16:
      f16Row(static_cast<const uint16_t*>(src), dst, n);
      break;
    case QType::BF16:
      bf16Row(static_cast<const uint16_t*>(src), dst, n);
      break;
    case QType::Q6_K:
      q6K(b, dst, n / kQKK);
      break;
    case QType::Q3_K:
      q3K(b, dst, n / kQKK);
      break;
    case QType::Q4_0:
      q40(b, dst, n / 32);
      break;
    case QType::Q8_0:
      q80(b, dst, n / 32);
      break;
    default:
      dequantizeRow(type, src, dst, n);
      break;
  }
}

}  // namespace ll::kern
