// Matrix products. cuBLAS is column-major: a row-major [rows, cols] weight is the column-major
// [cols, rows] matrix, so y^T = W x^T is gemm(T, N) with lda = ldb = cols and ldc = rows; a chunk
// of weight rows [r0, r1) writes the rows r0.. of every output column, i.e. y + r0 with ldc = rows.
#include <algorithm>

#include "kernels/cuda/dequant.cuh"
#include "kernels/cuda/matmul.cuh"

namespace ll::kern::cuda {
namespace {

void gemmF32(const MatmulContext& c, const float* a, int m, int n, int k, const float* x, float* y,
             int ldc) {
  const float one = 1.0f, zero = 0.0f;
  checkBlas(
      c.api->sgemm(c.blas, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, a, k, x, k, &zero, y, ldc),
      "cublasSgemm");
}

void gemmBf16(const MatmulContext& c, const void* a, int m, int n, int k, const void* xb, float* y,
              int ldc) {
  const float one = 1.0f, zero = 0.0f;
  checkBlas(c.api->gemmEx(c.blas, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, a, CUDA_R_16BF, k, xb,
                          CUDA_R_16BF, k, &zero, y, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                          CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx (bf16)");
}

}  // namespace

void matmul(const MatmulContext& c, QType type, const uint8_t* w, size_t rowBytes, int64_t rows,
            int64_t cols, const float* x, float* y, int n) {
  if (n <= 0 || rows <= 0) return;
  if (n == 1) {
    matVec(type, w, rowBytes, rows, cols, x, y, c.stream);
    return;
  }
  checkBlas(c.api->setStream(c.blas, c.stream), "cublasSetStream");
  checkBlas(c.api->setMathMode(c.blas, c.mode == MathMode::Fast ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                : CUBLAS_PEDANTIC_MATH),
            "cublasSetMathMode");
  const int k = int(cols);
  const int64_t chunkRows =
      std::max<int64_t>(1, std::min<int64_t>(rows, kChunkElems / std::max<int64_t>(cols, 1)));
  if (type == QType::F32) {
    gemmF32(c, reinterpret_cast<const float*>(w), int(rows), n, k, x, y, int(rows));
    return;
  }
  if (c.mode == MathMode::Precise) {
    float* buf =
        static_cast<float*>(c.weightScratch->get(size_t(chunkRows) * cols * sizeof(float)));
    for (int64_t r0 = 0; r0 < rows; r0 += chunkRows) {
      const int64_t r1 = std::min(rows, r0 + chunkRows);
      dequantRowsF32(type, w, rowBytes, r0, r1, cols, buf, c.stream);
      gemmF32(c, buf, int(r1 - r0), n, k, x, y + r0, int(rows));
    }
    return;
  }
  auto* xb =
      static_cast<__nv_bfloat16*>(c.inputScratch->get(size_t(n) * cols * sizeof(__nv_bfloat16)));
  toBf16(x, xb, size_t(n) * cols, c.stream);
  if (type == QType::BF16) {
    gemmBf16(c, w, int(rows), n, k, xb, y, int(rows));
    return;
  }
  auto* buf = static_cast<__nv_bfloat16*>(
      c.weightScratch->get(size_t(chunkRows) * cols * sizeof(__nv_bfloat16)));
  for (int64_t r0 = 0; r0 < rows; r0 += chunkRows) {
    const int64_t r1 = std::min(rows, r0 + chunkRows);
    dequantRowsBf16(type, w, rowBytes, r0, r1, cols, buf, c.stream);
    gemmBf16(c, buf, int(r1 - r0), n, k, xb, y + r0, int(rows));
  }
}

}  // namespace ll::kern::cuda
