// Dequantization kernels: whole row ranges to f32/bf16 scratch (before cuBLAS), selected rows
// (token embeddings) and the dequantize-on-the-fly mat-vec used for generation (n == 1).
#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/dequant.cuh"

namespace ll::kern::cuda {
namespace {

template <int T, class Out>
__global__ void dequantRowsKernel(const uint8_t* w, size_t rowBytes, int64_t rowBegin,
                                  int64_t nRows, int64_t cols, Out* dst) {
  const size_t total = size_t(nRows) * cols;
  for (size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += size_t(gridDim.x) * blockDim.x) {
    const int64_t r = int64_t(idx / cols), c = int64_t(idx % cols);
    const float v = dq<T>(w + size_t(rowBegin + r) * rowBytes, c);
    if constexpr (std::is_same_v<Out, float>)
      dst[idx] = v;
    else
      dst[idx] = __float2bfloat16_rn(v);
  }
}

template <int T>
__global__ void gatherRowsKernel(const uint8_t* w, size_t rowBytes, const int32_t* ids, int n,
                                 int64_t cols, float* out) {
  const size_t total = size_t(n) * cols;
  for (size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += size_t(gridDim.x) * blockDim.x) {
    const int64_t i = int64_t(idx / cols), c = int64_t(idx % cols);
    out[idx] = dq<T>(w + size_t(ids[i]) * rowBytes, c);
  }
}

// One warp per output row; lanes stride over the row so reads of a block stay close together.
template <int T>
__global__ void matVecKernel(const uint8_t* w, size_t rowBytes, int64_t rows, int64_t cols,
                             const float* x, float* y) {
  const int lane = threadIdx.x & 31;
  const int64_t r = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (r >= rows) return;
  const uint8_t* row = w + size_t(r) * rowBytes;
  float acc = 0.0f;
  for (int64_t c = lane; c < cols; c += 32) acc = fmaf(dq<T>(row, c), x[c], acc);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
  if (lane == 0) y[r] = acc;
}

__global__ void toBf16Kernel(const float* x, __nv_bfloat16* y, size_t count) {
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += size_t(gridDim.x) * blockDim.x)
    y[i] = __float2bfloat16_rn(x[i]);
}

}  // namespace

void dequantRowsF32(QType t, const uint8_t* w, size_t rowBytes, int64_t rowBegin, int64_t rowEnd,
                    int64_t cols, float* dst, cudaStream_t s) {
  const size_t total = size_t(rowEnd - rowBegin) * cols;
  if (total == 0) return;
  dispatchType(t, [&](auto tc) {
    dequantRowsKernel<decltype(tc)::value, float>
        <<<blocksFor(total, 256), 256, 0, s>>>(w, rowBytes, rowBegin, rowEnd - rowBegin, cols, dst);
  });
  checkLaunch("dequantize (f32)");
}

void dequantRowsBf16(QType t, const uint8_t* w, size_t rowBytes, int64_t rowBegin, int64_t rowEnd,
                     int64_t cols, __nv_bfloat16* dst, cudaStream_t s) {
  const size_t total = size_t(rowEnd - rowBegin) * cols;
  if (total == 0) return;
  dispatchType(t, [&](auto tc) {
    dequantRowsKernel<decltype(tc)::value, __nv_bfloat16>
        <<<blocksFor(total, 256), 256, 0, s>>>(w, rowBytes, rowBegin, rowEnd - rowBegin, cols, dst);
  });
  checkLaunch("dequantize (bf16)");
}

void gatherWeightRows(QType t, const uint8_t* w, size_t rowBytes, const int32_t* ids, int n,
                      int64_t cols, float* out, cudaStream_t s) {
  const size_t total = size_t(n) * cols;
  if (total == 0) return;
  dispatchType(t, [&](auto tc) {
    gatherRowsKernel<decltype(tc)::value>
        <<<blocksFor(total, 256), 256, 0, s>>>(w, rowBytes, ids, n, cols, out);
  });
  checkLaunch("getRows");
}

void matVec(QType t, const uint8_t* w, size_t rowBytes, int64_t rows, int64_t cols, const float* x,
            float* y, cudaStream_t s) {
  if (rows == 0) return;
  constexpr int kWarps = 8;
  const unsigned blocks = unsigned((rows + kWarps - 1) / kWarps);
  dispatchType(t, [&](auto tc) {
    matVecKernel<decltype(tc)::value><<<blocks, kWarps * 32, 0, s>>>(w, rowBytes, rows, cols, x, y);
  });
  checkLaunch("matmul (mat-vec)");
}

void toBf16(const float* x, __nv_bfloat16* y, size_t count, cudaStream_t s) {
  if (count == 0) return;
  toBf16Kernel<<<blocksFor(count, 256), 256, 0, s>>>(x, y, count);
  checkLaunch("f32 -> bf16");
}

}  // namespace ll::kern::cuda
