// Row dequantization for the CPU backend's hot loop: vectorisable rewrites of the ggml routines
// that the generic kernels/quant.cpp code leaves scalar, bit-exact with dequantizeRow (checked by
// tst_backend_cpu_dequant); other types fall through to dequantizeRow.
#pragma once

#include <cstdint>

#include "kernels/quant.h"

namespace ll::kern {

// Same contract and results as dequantizeRow(type, src, dst, n).
void cpuDequantizeRow(QType type, const void* src, float* dst, int64_t n);

}  // namespace ll::kern
