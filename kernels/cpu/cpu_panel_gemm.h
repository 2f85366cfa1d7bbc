// The CPU backend's precise f32 GEMM on AVX-512 (BLIS-style): the activations are packed once per
// product, each weight panel is dequantized straight into the kernel's layout, and a 12 x 32
// register tile accumulates with FMA. Faster than the BLAS libraries on the engine's shapes
// (tests/bench/RESULTS.md) because nothing is repacked per panel. Every output is summed in one
// fixed order (an FMA chain per block of kPanelDepth columns, blocks added in order), so its value
// depends neither on the thread count nor on the number of rows in the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/cpu/cpu_weight.h"

namespace ll::kern {

inline constexpr int kPanelTileRows = 12;  // activation rows per register tile
inline constexpr int kPanelTileCols = 32;  // weight rows per register tile (two zmm)
inline constexpr int kPanelDepth = 256;    // columns per block: a multiple of every quant block

// The CPU runs the kernel (AVX-512F; checked once at run time) and LAYERLENS_CPU_GEMM is not
// "library" (which keeps every product on the build's BLAS library, for side-by-side timings).
bool panelGemmAvailable();

// What computes the CPU backend's precise f32 products of 2 rows or more, for its name: "AVX-512
// panel GEMM", or the build's library ("oneDNN 2.6.3") on a CPU without AVX-512 or where
// LAYERLENS_CPU_GEMM=library asks for it. One row (generation) takes the fused GEMV or Eigen.
std::string cpuGemmName();

// Floats packRows writes for n rows of `cols` columns.
size_t packedRowsFloats(int n, int64_t cols);
// x[n, cols] (row-major) into blocks of kPanelTileRows rows, column-major inside a block
// ([ceil(n / 12)][cols][12]), the last block zero-padded; blocks [b0, b1) only. Requires
// panelGemmAvailable().
void packRows(int n, int64_t cols, const float* x, float* xp, int64_t b0, int64_t b1);
inline int64_t packedRowBlocks(int n) {
  return (n + kPanelTileRows - 1) / kPanelTileRows;
}

// y[n, count] (row stride ldy) = x[n, cols] * w[r0 .. r0 + count)^T for x packed by packRows,
// computed in the calling thread. Requires panelGemmAvailable().
void panelGemm(const float* xp, int n, const CpuWeight& w, int64_t r0, int64_t count, float* y,
               int64_t ldy);

// panelGemm's two halves, for each block of kPanelDepth columns from k0 = 0 (a benchmark times
// the register tiles alone with them: tests/bench/bench_panel_gemm.cpp). packPanel writes weight
// rows [r0, r0 + count) x columns [k0, k0 + kPanelDepth) into bp (packedPanelFloats(count)
// floats, 64-byte aligned); panelTiles then adds their products with x packed by packRows into y
// (overwriting it at k0 = 0). Both run in the calling thread and require panelGemmAvailable().
size_t packedPanelFloats(int64_t count);
void packPanel(const CpuWeight& w, int64_t r0, int64_t count, int64_t k0, float* bp);
void panelTiles(const float* xp, int n, int64_t cols, const float* bp, int64_t count, int64_t k0,
                float* y, int64_t ldy);

// The same products in scalar code with the same rounding steps (fmaf chains per block, blocks
// added in order): panelGemm's reference, bit-identical to it.
void panelGemmReference(const float* x, int n, const CpuWeight& w, int64_t r0, int64_t count,
                        float* y, int64_t ldy);

}  // namespace ll::kern
