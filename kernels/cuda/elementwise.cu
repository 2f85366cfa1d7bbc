// Element-wise ops: grid-stride loops, f32 in and out; transcendental parts in f32 with the
// accurate (non fast-math) library functions so they track the double-precision reference.
#include "kernels/cuda/cuda_util.cuh"
#include "kernels/cuda/elementwise.cuh"

namespace ll::kern::cuda {
namespace {

#define LL_GRID_LOOP(i, count)                                                \
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (count); \
       i += size_t(gridDim.x) * blockDim.x)

__global__ void fillKernel(float* d, float v, size_t n) {
  LL_GRID_LOOP(i, n) d[i] = v;
}
__global__ void addBiasKernel(float* x, const float* b, size_t total, int dim) {
  LL_GRID_LOOP(i, total) x[i] += b[i % dim];
}
__global__ void addKernel(const float* a, const float* b, float* y, size_t n) {
  LL_GRID_LOOP(i, n) y[i] = a[i] + b[i];
}
__global__ void addRowVectorKernel(float* x, const float* v, float alpha, size_t total, int dim) {
  LL_GRID_LOOP(i, total) x[i] = fmaf(alpha, v[i % dim], x[i]);
}
__global__ void swigluKernel(const float* g, const float* u, float* y, size_t n) {
  LL_GRID_LOOP(i, n) {
    const float x = g[i];
    y[i] = x / (1.0f + expf(-x)) * u[i];
  }
}
__global__ void geluKernel(float* x, size_t n) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  LL_GRID_LOOP(i, n) {
    // 0.5 v (1 + tanh z) == v / (1 + exp(-2z)): the tanh form cancels for negative v (1 + tanh
    // near 0) and loses most of its digits there; this one keeps f32 relative precision.
    const float v = x[i];
    const float z = k * (v + 0.044715f * v * v * v);
    x[i] = v / (1.0f + expf(-2.0f * z));
  }
}
__global__ void gluKernel(Glu kind, const float* gate, const float* up, float* y, size_t n) {
  const float k2 = 2.0f * 0.7978845608028654f;  // 2 sqrt(2/pi)
  LL_GRID_LOOP(i, n) {
    float g = gate[i], u = up[i], a = 0.0f;
    switch (kind) {
      case Glu::Silu:
        a = g / (1.0f + expf(-g));
        break;
      case Glu::GeluTanh:
        a = g / (1.0f + expf(-k2 * (g + 0.044715f * g * g * g)));
        break;
      case Glu::SiluOai:
        g = fminf(g, kOaiSwigluLimit);
        u = fminf(fmaxf(u, -kOaiSwigluLimit), kOaiSwigluLimit) + 1.0f;
        a = g / (1.0f + expf(-kOaiSwigluAlpha * g));
        break;
    }
    y[i] = a * u;
  }
}
__global__ void softcapKernel(float* x, float cap, size_t n) {
  LL_GRID_LOOP(i, n) x[i] = cap * tanhf(x[i] / cap);
}
__global__ void scaleRowsKernel(float* x, const float* s, size_t total, int dim) {
  LL_GRID_LOOP(i, total) x[i] *= s[i / dim];
}
__global__ void sigmoidKernel(float* x, size_t n) {
  LL_GRID_LOOP(i, n) x[i] = 1.0f / (1.0f + expf(-x[i]));
}
__global__ void gatherRowsKernel(const float* src, const int32_t* idx, size_t total, int dim,
                                 float* dst) {
  LL_GRID_LOOP(i, total) dst[i] = src[size_t(idx[i / dim]) * dim + i % dim];
}
__global__ void scatterAddRowsKernel(const float* src, const int32_t* idx, const float* w,
                                     size_t total, int dim, float* dst) {
  LL_GRID_LOOP(i, total) {
    const size_t r = i / dim;
    const float wi = w ? w[r] : 1.0f;
    float* d = dst + size_t(idx[r]) * dim + i % dim;
    *d = fmaf(wi, src[i], *d);
  }
}

}  // namespace

#define LL_LAUNCH(kernel, count, name, ...)                      \
  do {                                                           \
    if ((count) == 0) return;                                    \
    kernel<<<blocksFor((count), 256), 256, 0, s>>>(__VA_ARGS__); \
    checkLaunch(name);                                           \
  } while (0)

void fill(float* dst, float value, size_t count, cudaStream_t s) {
  LL_LAUNCH(fillKernel, count, "fill", dst, value, count);
}
void addBias(float* x, const float* bias, int n, int dim, cudaStream_t s) {
  const size_t total = size_t(n) * dim;
  LL_LAUNCH(addBiasKernel, total, "addBias", x, bias, total, dim);
}
void add(const float* a, const float* b, float* y, size_t count, cudaStream_t s) {
  LL_LAUNCH(addKernel, count, "add", a, b, y, count);
}
void addRowVector(float* x, const float* v, float alpha, int rowBegin, int n, int dim,
                  cudaStream_t s) {
  if (rowBegin < 0) rowBegin = 0;
  if (rowBegin >= n) return;
  const size_t total = size_t(n - rowBegin) * dim;
  LL_LAUNCH(addRowVectorKernel, total, "addRowVector", x + size_t(rowBegin) * dim, v, alpha, total,
            dim);
}
void swiglu(const float* gate, const float* up, float* y, size_t count, cudaStream_t s) {
  LL_LAUNCH(swigluKernel, count, "swiglu", gate, up, y, count);
}
void gelu(float* x, size_t count, cudaStream_t s) {
  LL_LAUNCH(geluKernel, count, "gelu", x, count);
}
void glu(Glu kind, const float* gate, const float* up, float* y, size_t count, cudaStream_t s) {
  LL_LAUNCH(gluKernel, count, "glu", kind, gate, up, y, count);
}
void softcap(float* x, float cap, size_t count, cudaStream_t s) {
  LL_LAUNCH(softcapKernel, count, "softcap", x, cap, count);
}
void scaleRows(float* x, const float* sc, int n, int dim, cudaStream_t s) {
  const size_t total = size_t(n) * dim;
  LL_LAUNCH(scaleRowsKernel, total, "scaleRows", x, sc, total, dim);
}
void sigmoid(float* x, size_t count, cudaStream_t s) {
  LL_LAUNCH(sigmoidKernel, count, "sigmoid", x, count);
}
void gatherRows(const float* src, const int32_t* idx, int n, int dim, float* dst, cudaStream_t s) {
  const size_t total = size_t(n) * dim;
  LL_LAUNCH(gatherRowsKernel, total, "gatherRows", src, idx, total, dim, dst);
}
void scatterAddRows(const float* src, const int32_t* idx, const float* w, int n, int dim,
                    float* dst, cudaStream_t s) {
  const size_t total = size_t(n) * dim;
  LL_LAUNCH(scatterAddRowsKernel, total, "scatterAddRows", src, idx, w, total, dim, dst);
}

}  // namespace ll::kern::cuda
