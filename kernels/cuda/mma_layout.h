// Lane -> element maps of the mma.sync m16n8k16 fragments and the ldmatrix.x4 row addresses the
// flash attention kernel (attention_mma.cu) uses. Plain C++ (host and device) so that
// tests/cuda/tst_mma_layout.cpp checks them against the PTX fragment layouts without a GPU.
#pragma once

#if defined(__CUDACC__)
#define LL_MMA_HD __host__ __device__ __forceinline__
#else
#define LL_MMA_HD inline
#endif

namespace ll::kern::mma {

// ldmatrix.x4 of a 16 x 16 tile stored row-major (rows = M, columns = K) as an A operand: the
// row and column offsets, within the tile, of the 8-element row whose address `lane` supplies.
LL_MMA_HD int aRow(int lane) {
  return lane % 16;
}
LL_MMA_HD int aCol(int lane) {
  return (lane / 16) * 8;
}

// ldmatrix.x4 (no transpose) of a 16 (N) x 16 (K) tile stored row-major, i.e. B^T (K rows for
// S = Q K^T): registers 0, 1 are the B fragment of n-tile 0 (rows 0-7), 2, 3 of n-tile 1.
LL_MMA_HD int bRow(int lane) {
  return (lane / 16) * 8 + lane % 8;
}
LL_MMA_HD int bCol(int lane) {
  return ((lane / 8) % 2) * 8;
}

// ldmatrix.x4.trans of a 16 (K) x 16 (N) tile stored row-major, i.e. B itself (V rows for
// O = P V): registers 0, 1 are the B fragment of n-tile 0 (columns 0-7), 2, 3 of n-tile 1.
LL_MMA_HD int btRow(int lane) {
  return ((lane / 8) % 2) * 8 + lane % 8;
}
LL_MMA_HD int btCol(int lane) {
  return (lane / 16) * 8;
}

// Row and column, within the 16 x 8 tile, of accumulator element e (0..3) of `lane`.
LL_MMA_HD int cRow(int lane, int e) {
  return lane / 4 + (e / 2) * 8;
}
LL_MMA_HD int cCol(int lane, int e) {
  return 2 * (lane % 4) + (e % 2);
}

// Accumulators as the next A operand (P of S = Q K^T feeding O = P V): A register r (0..3), half
// h (0, 1: low, high) of a 16-key block is accumulator element accElem(r, h) of n-tile
// accTile(r) (0 or 1) of the two 8-key tiles that make the block.
LL_MMA_HD int accTile(int r) {
  return r / 2;
}
LL_MMA_HD int accElem(int r, int h) {
  return (r % 2) * 2 + h;
}

}  // namespace ll::kern::mma
