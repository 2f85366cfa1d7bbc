// The CPU backend's opt-in fast math mode (LAYERLENS_CPU_MATH=fast): bf16 dot products for F16/BF16
// weights, int8 dot products with per-block quantized activations for Q8_0, Q4_0, Q4_1, Q5_0,
// Q5_1, Q2_K..Q6_K, IQ4_NL, IQ4_XS and MXFP4 weights, f32 accumulation. F32 weights, and CPUs
// without the instructions, use the precise path.
#pragma once

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_weight.h"
#include "kernels/cpu/thread_pool.h"

namespace ll::kern {

// Whether the fast mode has a kernel for weights of this type on a CPU with these features.
bool fastMatmulCovers(QType type, const CpuFeatures& features);

// y[n, w.rows] = x[n, w.cols] * w^T in fast math; false (nothing written) when not covered.
// Work is split over output columns in panels whose bounds depend only on the shapes, and each
// output is summed in one fixed order: results do not depend on the thread count or on n.
bool fastMatmul(ThreadPool& pool, const CpuFeatures& features, const CpuWeight& w, const float* x,
                float* y, int n);

// gate = silu(gate) * (x * up^T) in fast math, panel by panel as cpuMatmulSwiglu; false when not
// covered.
bool fastMatmulSwiglu(ThreadPool& pool, const CpuFeatures& features, const CpuWeight& up,
                      const float* x, float* gate, int n);

}  // namespace ll::kern
