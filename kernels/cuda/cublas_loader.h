// cuBLAS loaded on first use (dlopen) instead of linked. Linking libcublas maps and relocates
// libcublasLt at process start: about 150 MiB resident in every run, CPU-only ones included,
// although only a CUDA backend ever calls it. The backend asks for the table when it is created.
#pragma once

#include <cublas_v2.h>

#include <string>

namespace ll::kern::cuda {

// The cuBLAS entry points the backend calls (the _v2 names cublas_v2.h maps them to).
struct CublasApi {
  cublasStatus_t (*create)(cublasHandle_t*);
  cublasStatus_t (*destroy)(cublasHandle_t);
  cublasStatus_t (*setStream)(cublasHandle_t, cudaStream_t);
  cublasStatus_t (*setMathMode)(cublasHandle_t, cublasMath_t);
  cublasStatus_t (*sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                          const float*, const float*, int, const float*, int, const float*, float*,
                          int);
  cublasStatus_t (*gemmEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                           const void*, const void*, cudaDataType, int, const void*, cudaDataType,
                           int, const void*, void*, cudaDataType, int, cublasComputeType_t,
                           cublasGemmAlgo_t);
};

// Loads the library once (thread-safe) and returns its table; the library stays loaded for the
// process's life. nullptr when it cannot be loaded or lacks an entry point; *why then names the
// library tried and the loader's error.
const CublasApi* cublasApi(std::string* why = nullptr);

}  // namespace ll::kern::cuda
