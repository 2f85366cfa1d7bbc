// RMSNorm and LayerNorm on the device: one block per row, f32 two-level reductions.
#pragma once

#include <cuda_runtime.h>

namespace ll::kern::cuda {

void rmsNorm(const float* x, const float* w, float* y, int n, int dim, float eps, cudaStream_t s);
void layerNorm(const float* x, const float* w, const float* b, float* y, int n, int dim, float eps,
               cudaStream_t s);

}  // namespace ll::kern::cuda
