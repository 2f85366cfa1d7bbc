// Factories for the backends built into this binary.
#pragma once

#include <memory>
#include <string>

#include "kernels/backend.h"

namespace ll::kern {

// Plain scalar loops; obviously right, slow; used by tests as the op-level reference.
std::unique_ptr<Backend> makeReferenceBackend();
// Eigen + a thread pool; threads <= 0 means the hardware concurrency.
std::unique_ptr<Backend> makeCpuBackend(int threads);
// nullptr when the CUDA backend is not built or no usable GPU is present; *why says which.
std::unique_ptr<Backend> makeCudaBackend(std::string* why);
bool cudaBackendBuilt();

}  // namespace ll::kern
