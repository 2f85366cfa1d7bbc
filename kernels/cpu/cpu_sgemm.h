// The CPU backend's f32 GEMM: one single-threaded call of the BLAS library chosen at build time
// (CMake LAYERLENS_BLAS), or Eigen where none was found. Callers split the work into panels.
#pragma once

#include <cstdint>
#include <string>

namespace ll::kern {

// y[n, rows] (row stride ldy) = x[n, cols] * w[rows, cols]^T, all row-major, computed in the
// calling thread only (the library's own threading is forced off). Small products (one row, few
// rows, narrow panels) take Eigen, faster than the library there.
void sgemmNT(int n, int64_t rows, int64_t cols, const float* x, const float* w, float* y,
             int64_t ldy);

// Threads the library would use for a GEMM called from this thread: 1 once sgemmNT ran here.
int sgemmLibraryThreads();

// The library sgemmNT runs on, e.g. "OpenBLAS 0.3.21 (Cooperlake)" or "Eigen 3.4.0".
std::string sgemmLibrary();

}  // namespace ll::kern
