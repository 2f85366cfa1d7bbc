// Factories for the backends built into this binary.
#pragma once

#include <memory>
#include <string>

#include "kernels/backend.h"

namespace ll::kern {

// Plain scalar loops; obviously right, slow; used by tests as the op-level reference.
std::unique_ptr<Backend> makeReferenceBackend();
// The CPU backend's numerics. Precise (the default and the parity bar): f32 products of the
// dequantized weights. Fast: bf16 dot products for F16/BF16 weights and int8 dot products with
// per-block quantized activations for the quantized weight types (Q4_0..Q8_0, K-quants, IQ4_NL,
// IQ4_XS, MXFP4), f32 accumulation, where the CPU has AVX512_BF16 / AVX512_VNNI (F32 weights and
// other CPUs keep the precise kernels).
enum class CpuMath { Precise, Fast };

// "precise" or "fast"; throws std::invalid_argument naming `what` on anything else.
CpuMath parseCpuMath(const std::string& value, const std::string& what = "cpu math");
// LAYERLENS_CPU_MATH (unset or empty: precise); throws std::invalid_argument on a bad value.
CpuMath cpuMathFromEnv();
const char* cpuMathName(CpuMath math);

// Eigen + a thread pool; threads <= 0 means the hardware concurrency. Without `math` the mode
// comes from LAYERLENS_CPU_MATH. name() is "cpu" in precise math and names the fast kernels
// in use otherwise ("cpu (fast math: ...)").
std::unique_ptr<Backend> makeCpuBackend(int threads);
std::unique_ptr<Backend> makeCpuBackend(int threads, CpuMath math);
// nullptr when the CUDA backend is not built or no usable GPU is present; *why says which.
std::unique_ptr<Backend> makeCudaBackend(std::string* why);
bool cudaBackendBuilt();

}  // namespace ll::kern
