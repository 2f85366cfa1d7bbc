// One-activation-row matmul (generation) fused with dequantization for Q8_0, Q4_K, Q6_K, F16 and
// BF16: the weight bytes are read once and never expanded to f32.
#pragma once

#include <cstdint>

#include "kernels/cpu/cpu_weight.h"

namespace ll::kern {

// True when a fused kernel exists for w.type on this build (AVX2).
bool hasFusedGemv(QType type);

// y[r] = dot(row r of w, x) for r in [r0, r1). xSums32[b] = sum of x over elements [32b, 32b+32)
// (used by types with a per-block minimum); computed by the caller once per call.
void fusedGemv(const CpuWeight& w, const float* x, const float* xSums32, float* y, int64_t r0,
               int64_t r1);

}  // namespace ll::kern
