// Row normalizations. Sums are accumulated in double: rows are short (a few thousand) and the
// reference accumulates in double, so the result stays within float rounding of it.
#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/norm.cuh"

namespace ll::kern::cuda {
namespace {

constexpr int kThreads = 256;

__device__ double blockSum(double v, double* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // shared may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  double t = 0;
  for (int i = 0; i < kThreads / 32; ++i) t += shared[i];
  return t;
}

__global__ void rmsNormKernel(const float* x, const float* w, float* y, int dim, float eps) {
  __shared__ double red[kThreads / 32];
  const float* xr = x + size_t(blockIdx.x) * dim;
  float* yr = y + size_t(blockIdx.x) * dim;
  double ss = 0;
  for (int d = threadIdx.x; d < dim; d += kThreads) ss += double(xr[d]) * xr[d];
  ss = blockSum(ss, red);
  const double inv = 1.0 / sqrt(ss / dim + double(eps));
  for (int d = threadIdx.x; d < dim; d += kThreads)
    yr[d] = float(xr[d] * inv * (w ? double(w[d]) : 1.0));
}

__global__ void layerNormKernel(const float* x, const float* w, const float* b, float* y, int dim,
                                float eps) {
  __shared__ double red[kThreads / 32];
  const float* xr = x + size_t(blockIdx.x) * dim;
  float* yr = y + size_t(blockIdx.x) * dim;
  double sum = 0;
  for (int d = threadIdx.x; d < dim; d += kThreads) sum += xr[d];
  const double mean = blockSum(sum, red) / dim;
  double var = 0;
  for (int d = threadIdx.x; d < dim; d += kThreads) var += (xr[d] - mean) * (xr[d] - mean);
  var = blockSum(var, red) / dim;
  const double inv = 1.0 / sqrt(var + double(eps));
  for (int d = threadIdx.x; d < dim; d += kThreads) {
    double v = (xr[d] - mean) * inv;
    if (w) v *= w[d];
    if (b) v += b[d];
    yr[d] = float(v);
  }
}

}  // namespace

void rmsNorm(const float* x, const float* w, float* y, int n, int dim, float eps, cudaStream_t s) {
  if (n <= 0 || dim <= 0) return;
  rmsNormKernel<<<n, kThreads, 0, s>>>(x, w, y, dim, eps);
  checkLaunch("rmsNorm");
}

void layerNorm(const float* x, const float* w, const float* b, float* y, int n, int dim, float eps,
               cudaStream_t s) {
  if (n <= 0 || dim <= 0) return;
  layerNormKernel<<<n, kThreads, 0, s>>>(x, w, b, y, dim, eps);
  checkLaunch("layerNorm");
}

}  // namespace ll::kern::cuda
