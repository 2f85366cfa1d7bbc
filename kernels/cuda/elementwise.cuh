// Element-wise and row-wise CUDA ops of the Backend (bias, add, steering, activations, gathers).
// All launch on the given stream and throw std::runtime_error on a launch failure.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/backend.h"

namespace ll::kern::cuda {

void fill(float* dst, float value, size_t count, cudaStream_t s);
void addBias(float* x, const float* bias, int n, int dim, cudaStream_t s);
void add(const float* a, const float* b, float* y, size_t count, cudaStream_t s);
void addRowVector(float* x, const float* v, float alpha, int rowBegin, int n, int dim,
                  cudaStream_t s);
void swiglu(const float* gate, const float* up, float* y, size_t count, cudaStream_t s);
void gelu(float* x, size_t count, cudaStream_t s);
void glu(Glu kind, const float* gate, const float* up, float* y, size_t count, cudaStream_t s);
void softcap(float* x, float cap, size_t count, cudaStream_t s);
void scaleRows(float* x, const float* sc, int n, int dim, cudaStream_t s);
void sigmoid(float* x, size_t count, cudaStream_t s);
void gatherRows(const float* src, const int32_t* idx, int n, int dim, float* dst, cudaStream_t s);
void scatterAddRows(const float* src, const int32_t* idx, const float* w, int n, int dim,
                    float* dst, cudaStream_t s);

}  // namespace ll::kern::cuda
