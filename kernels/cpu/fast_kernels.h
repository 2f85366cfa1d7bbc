// The fast math mode's kernel pieces, shared by fast_matmul.cpp and the op tests: activation
// and weight-panel packing, the AVX-512 panel kernels and their plain scalar references.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_weight.h"

namespace ll::kern::fast {

// Weight rows per strip: one 512-bit register of f32 lanes, one lane per weight row (output
// column). Each output keeps its own lane and sums k in one fixed order, so a result does not
// depend on the tile, panel, thread count or the number of activation rows.
constexpr int kStrip = 16;

inline int64_t stripsFor(int64_t rows) {
  return (rows + kStrip - 1) / kStrip;
}

// ---- bf16: F16 / BF16 weights, vdpbf16ps ----

// f32 -> bf16, round to nearest even; subnormals become signed zero (vdpbf16ps treats bf16
// subnormal inputs as zero anyway), NaN stays a quiet NaN.
uint16_t toBf16(float f);
float fromBf16(uint16_t h);

// k pairs per activation row: bf16 (x[2p], x[2p+1]) packed in one uint32, low half the even k.
inline int64_t bf16Pairs(int64_t cols) {
  return (cols + 1) / 2;
}
// Rows [r0, r1) of x ([.., cols] f32) to bf16 pairs: out row r at out + r * bf16Pairs(cols).
void bf16Activations(const float* x, int64_t cols, int64_t r0, int64_t r1, uint32_t* out);
// Weight rows [r0, r0 + count) as stripsFor(count) strips of bf16Pairs(cols) * kStrip uint32:
// entry [p][j] holds row j's pair p. Rows past count are zero. F16 loses 3 mantissa bits
// (10 -> 7) on the way to bf16 (round to nearest even); BF16 bits are taken as they are.
// AVX-512 (16-row register transposes, vcvtph2ps + vcvtne2ps2bf16) and the scalar reference;
// same bits.
void bf16PackPanel(const CpuWeight& w, int64_t r0, int64_t count, uint32_t* dst);
void bf16PackPanelScalar(const CpuWeight& w, int64_t r0, int64_t count, uint32_t* dst);
// y[i * ldy + j] = sum_p act_i[p] . panel_j[p] for i < n, j < count (f32 accumulation).
void bf16PanelAvx512(const uint32_t* act, int n, int64_t pairs, const uint32_t* panel,
                     int64_t count, float* y, int64_t ldy);
// The same sums in scalar code, in the order vdpbf16ps adds them (odd k, then even k, per pair;
// subnormal inputs read as zero and results flushed to zero below FLT_MIN, as the instruction
// does).
void bf16PanelScalar(const uint32_t* act, int n, int64_t pairs, const uint32_t* panel,
                     int64_t count, float* y, int64_t ldy);

// ---- int8: Q8_0, Q4_0 and the other quantized types, vpdpbusd ----

constexpr int kQBlock = 32;

// A weight type's int8 form: w = d_g * q + m_g with q in -128..127 and, per group of `group`
// weights (16 or 32, within one 32-block), an f32 scale d_g and, for the types with a min
// (Q4_1, Q5_1, Q4_K, Q5_K, Q2_K), an f32 offset m_g. Exact: d_g * q + m_g is the value
// dequantizeRow gives (the same f32 operations).
struct Int8Layout {
  int group = kQBlock;
  bool mins = false;
};
// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL, IQ4_XS, MXFP4.
bool hasInt8Form(QType type);
Int8Layout int8Layout(QType type);
// One weight row (cols a whole number of the type's blocks): q[k] + 128 as bytes to q[cols],
// d_g to d[cols / group], m_g to m[cols / group] where the type has mins (m unused otherwise).
void int8DecodeRow(QType type, const uint8_t* row, int64_t cols, uint8_t* q, float* d, float* m);

// Activations quantized per 32-block: q = round(x / d) in [-127, 127], d = max|x| / 127 (f32).
// Per weight group (of Int8Layout::group): corr = 128 * sum(q), which removes the +128 offset
// the weights carry (below), and, where xsum is set, the f32 sum of the unquantized x (summed in
// k order) that multiplies the weights' min m_g: the min term is as exact as f32 allows.
struct Int8Act {
  int8_t* q = nullptr;      // [n][blocks * 32]
  float* scale = nullptr;   // [n][blocks]
  int32_t* corr = nullptr;  // [n][groups]
  float* xsum = nullptr;    // [n][groups], only for layouts with mins
};
// AVX-512 (the caller checks the CPU) and the scalar reference; the same results.
void int8Activations(const float* x, int64_t cols, int64_t r0, int64_t r1, const Int8Act& a,
                     int group = kQBlock);
void int8ActivationsScalar(const float* x, int64_t cols, int64_t r0, int64_t r1, const Int8Act& a,
                           int group = kQBlock);
// vpdpbusd multiplies unsigned by signed bytes. Rather than the sign trick (|w| and x * sign(w),
// per weight/activation pair), weights are stored as w + 128 (0..255, exact for all of -128..127)
// and 128 * sum(q) per activation group is subtracted once: sum q (w + 128) - 128 sum q = sum q w.
// Strip layout: blocks * 512 bytes (for each of 8 k-quads, 16 lanes x 4 bytes), then
// groups * 16 f32 scales (d_g per lane), then, with mins, groups * 16 f32 mins.
inline size_t int8StripBytes(int64_t blocks, Int8Layout l = {}) {
  const size_t groups = size_t(blocks) * (kQBlock / l.group);
  return size_t(blocks) * kQBlock * kStrip + groups * kStrip * sizeof(float) * (l.mins ? 2 : 1);
}
// Weight rows [r0, r0 + valid) (valid <= kStrip) in int8 form for one strip, row-major: row j's
// q + 128 at rows + j * cols (rows past valid: 128, i.e. weight 0), its group scales at
// scales[g * kStrip + j] and mins at mins[g * kStrip + j] (layouts with mins; 0 past valid).
void int8StripRows(const CpuWeight& w, int64_t r0, int valid, uint8_t* rows, float* scales,
                   float* mins);
// AVX-512 (16-row register transposes) and the scalar reference; same bytes. Any type with an
// int8 form.
void int8PackPanel(const CpuWeight& w, int64_t r0, int64_t count, uint8_t* dst);
void int8PackPanelScalar(const CpuWeight& w, int64_t r0, int64_t count, uint8_t* dst);
// y[i * ldy + j] = sum_g (d_x d_g) * (int sum_g q_x q_w) [+ xsum_g m_g] for i < n, j < count,
// groups in k order, the min term right after its group's product.
void int8PanelAvx512(const Int8Act& a, int n, int64_t blocks, const uint8_t* panel, int64_t count,
                     float* y, int64_t ldy, Int8Layout l = {});
void int8PanelScalar(const Int8Act& a, int n, int64_t blocks, const uint8_t* panel, int64_t count,
                     float* y, int64_t ldy, Int8Layout l = {});
// The same outputs as packing rows [r0, r0 + count) of w and running int8PanelAvx512 on them, bit
// for bit, without the packed panel: for a few activation rows (generation, the last-word update)
// where packing costs more than the products. Each weight row is read once, in order: Q8_0, Q4_0,
// Q4_K and Q6_K straight from their blocks in the file, the other types through one decoded row
// (int8DecodeRow). Per 16 blocks, 8 vpdpbusd products are added lane by lane into 16 group sums
// (exact integers), and per strip of 16 rows the panel kernel's f32 steps run per group in k
// order, one lane per row. Any n (slices of 4 activation rows).
void int8DirectAvx512(const CpuWeight& w, const Int8Act& a, int n, int64_t r0, int64_t count,
                      float* y, int64_t ldy);

}  // namespace ll::kern::fast
