// RoPE: one thread per rotated pair; angles in double like the reference so long positions
// (tens of thousands) keep their precision.
#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/rope.cuh"

namespace ll::kern::cuda {
namespace {

__global__ void ropeKernel(float* x, const int32_t* positions, int n, int nHead, int headDim,
                           int half, bool neox, const double* invFreq, double mag) {
  const size_t total = size_t(n) * nHead * half;
  for (size_t idx = size_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += size_t(gridDim.x) * blockDim.x) {
    const int i = int(idx % half);
    const size_t rh = idx / half;  // row * nHead + head
    const int r = int(rh / nHead);
    float* v = x + rh * headDim;
    const double theta = double(positions[r]) * invFreq[i];
    double sn, cs;
    sincos(theta, &sn, &cs);
    sn *= mag;
    cs *= mag;
    const int i0 = neox ? i : 2 * i;
    const int i1 = neox ? i + half : 2 * i + 1;
    const double x0 = v[i0], x1 = v[i1];
    v[i0] = float(x0 * cs - x1 * sn);
    v[i1] = float(x0 * sn + x1 * cs);
  }
}

}  // namespace

void rope(float* x, const int32_t* positions, int n, int nHead, int headDim, int nRot, bool neox,
          const double* invFreq, double mag, cudaStream_t s) {
  const int half = nRot / 2;
  const size_t total = size_t(n) * nHead * half;
  if (total == 0) return;
  ropeKernel<<<blocksFor(total, 256), 256, 0, s>>>(x, positions, n, nHead, headDim, half, neox,
                                                   invFreq, mag);
  checkLaunch("rope");
}

}  // namespace ll::kern::cuda
