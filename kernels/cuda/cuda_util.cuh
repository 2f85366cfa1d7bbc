// Shared helpers of the CUDA backend: error checks that turn CUDA/cuBLAS failures into
// std::runtime_error (never an abort), launch-size helpers and the per-backend scratch buffer.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ll::kern::cuda {

[[noreturn]] inline void throwCuda(const char* what, cudaError_t e) {
  throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
}

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throwCuda(what, e);
}

inline void checkBlas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLAS: ") + what + " failed with status " +
                             std::to_string(int(s)));
}

// Every launch is followed by this: a bad configuration surfaces at the op that caused it.
inline void checkLaunch(const char* what) {
  check(cudaGetLastError(), what);
}

inline unsigned blocksFor(size_t count, unsigned threads) {
  size_t b = (count + threads - 1) / threads;
  // A grid-stride loop covers the rest; 65535 * 32 blocks keep every SM busy.
  if (b > 65535u * 32u) b = 65535u * 32u;
  return unsigned(b < 1 ? 1 : b);
}

// A device buffer that only grows. Ops on one stream run in order, so reusing it across ops
// is safe; cudaFree before regrowing synchronizes the device.
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (m_ptr) cudaFree(m_ptr);
  }
  void* get(size_t bytes) {
    if (bytes <= m_bytes) return m_ptr;
    if (m_ptr) cudaFree(m_ptr);
    m_ptr = nullptr;
    m_bytes = 0;
    cudaError_t e = cudaMalloc(&m_ptr, bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();
      m_ptr = nullptr;
      throw std::runtime_error("CUDA: out of device memory for a " + std::to_string(bytes >> 20) +
                               " MiB scratch buffer (" + cudaGetErrorString(e) + ")");
    }
    m_bytes = bytes;
    return m_ptr;
  }

 private:
  void* m_ptr = nullptr;
  size_t m_bytes = 0;
};

}  // namespace ll::kern::cuda
