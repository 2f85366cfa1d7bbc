// Matrix multiply of activations by a weight in its file type, for the CPU backend: F32 weights
// are used in place; other types are dequantized panel by panel into per-thread scratch.
#pragma once

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/cpu_weight.h"
#include "kernels/cpu/thread_pool.h"

namespace ll::kern {

// Width (weight rows) of the panels an F32 weight is split into: depends only on the shapes, never
// on the thread count, so results are bit-identical across pool sizes.
int64_t f32PanelRows(int64_t rows);

// Weight rows per task of a panel GEMM product (cpu_panel_gemm.h, from 2 activation rows): whole
// 32-row strips, about rows / 16, at most 256.
int64_t panelGemmRows(int64_t rows);

// y[n, w.rows] = x[n, w.cols] * w^T. fast: the fast math mode's CPU features (fast_matmul.h),
// null for precise math; types the fast mode does not cover take the precise path.
void cpuMatmul(ThreadPool& pool, const CpuWeight& w, const float* x, float* y, int n,
               const CpuFeatures* fast = nullptr);

// gate[n, up.rows] = silu(gate) * (x * up^T), panel by panel: the [n, up.rows] product lives only
// in per-thread panel scratch (a SwiGLU FFN's largest buffer on long prompts).
void cpuMatmulSwiglu(ThreadPool& pool, const CpuWeight& up, const float* x, float* gate, int n,
                     const CpuFeatures* fast = nullptr);

// g[i] = silu(g[i]) * u[i], the same value for an element wherever it lies (see the .cpp).
void siluMul(float* g, const float* u, int64_t len);

}  // namespace ll::kern
