// y[n, rows] = x[n, cols] * W^T on the device for every weight type: the dequantizing mat-vec for
// n == 1, otherwise cuBLAS (F32 directly; other types dequantized in row chunks into scratch).
#pragma once

#include <cublas_v2.h>

#include <cuda_runtime.h>
#include "kernels/cuda/cublas_loader.h"

#include <cstdint>

#include "kernels/cuda/cuda_util.cuh"
#include "kernels/quant.h"

namespace ll::kern::cuda {

enum class MathMode {
  Precise,  // f32 operands and arithmetic everywhere (TF32 off): used by the parity tests
  Fast,     // bf16 operands with f32 accumulation on the tensor cores (TF32 for F32 weights)
};

struct MatmulContext {
  const CublasApi* api;  // cuBLAS, loaded when the backend was created
  cublasHandle_t blas;
  cudaStream_t stream;
  Scratch* weightScratch;  // dequantized row chunks
  Scratch* inputScratch;   // x as bf16 (fast mode)
  MathMode mode;
};

// Elements of the largest dequantized chunk (bounds scratch memory to 128 MiB of f32).
constexpr int64_t kChunkElems = int64_t(32) << 20;

void matmul(const MatmulContext& ctx, QType type, const uint8_t* w, size_t rowBytes, int64_t rows,
            int64_t cols, const float* x, float* y, int n);

}  // namespace ll::kern::cuda
