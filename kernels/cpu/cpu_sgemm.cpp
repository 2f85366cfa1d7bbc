// The CPU backend's f32 GEMM through the build's BLAS library (LL_BLAS_* from CMake
// LAYERLENS_BLAS) or Eigen. Each call runs in the calling thread: the ThreadPool owns the
// parallelism, so panel boundaries (and results) never depend on the thread count.
#include "kernels/cpu/cpu_sgemm.h"

#include <Eigen/Core>
#include <mutex>
#include <stdexcept>

#if defined(LL_BLAS_OPENBLAS)
#include <cblas.h>
#elif defined(LL_BLAS_BLIS)
#include <blis.h>
#elif defined(LL_BLAS_DNNL)
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_version.h>
extern "C" void omp_set_num_threads(int);  // libgomp, oneDNN's OpenMP runtime
extern "C" int omp_get_max_threads();
#endif

namespace ll::kern {
namespace {

// The library's internal threads would oversubscribe the pool: force one thread, once.
void singleThreadLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(LL_BLAS_OPENBLAS)
    openblas_set_num_threads(1);
#elif defined(LL_BLAS_BLIS)
    bli_thread_set_num_threads(1);
#endif
  });
#if defined(LL_BLAS_DNNL)
  // oneDNN's OpenMP runtime takes the calling thread's OpenMP thread count (a per-thread setting:
  // it also limits any OpenMP region this thread opens later; LayerLens opens none).
  thread_local bool single = [] {
    omp_set_num_threads(1);
    return true;
  }();
  (void)single;
#endif
}

// Products the library computes; Eigen takes the rest. From bench_gemm and a per-call timing of
// oneDNN 2.6 on Zen 5 (tests/bench/RESULTS.md): one row is Eigen's GEMV, faster than every library;
// below 32 rows, and on panels narrower than 64 weight rows below 256, oneDNN's per-call cost
// (packing) makes it slower than Eigen. The choice depends on the shapes only, so results stay
// bit-identical across thread counts; calls of 16 rows or more give a row the same value
// whatever the row count (tst_cpu_sgemm).
bool libraryProduct(int n, int64_t rows) {
  return (n >= 32 && rows >= 64) || n >= 256;
}

void eigenSgemmNT(int n, int64_t rows, int64_t cols, const float* x, const float* w, float* y,
                  int64_t ldy) {
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstMap = Eigen::Map<const RowMat>;
  Eigen::Map<RowMat, 0, Eigen::OuterStride<>> Y(y, n, rows, Eigen::OuterStride<>(ldy));
  Y.noalias() = ConstMap(x, n, cols) * ConstMap(w, rows, cols).transpose();
}

#if defined(LL_BLAS_DNNL)
void dnnlSgemmNT(int n, int64_t rows, int64_t cols, const float* x, const float* w, float* y,
                 int64_t ldy) {
  if (dnnl_sgemm('N', 'T', n, rows, cols, 1.0f, x, cols, w, cols, 0.0f, y, ldy) != dnnl_success)
    throw std::runtime_error("cpu backend: oneDNN sgemm failed (" + std::to_string(n) + "x" +
                             std::to_string(rows) + "x" + std::to_string(cols) + ")");
}
#endif

}  // namespace

void sgemmNT(int n, int64_t rows, int64_t cols, const float* x, const float* w, float* y,
             int64_t ldy) {
  if (n <= 0 || rows <= 0) return;
  if (!libraryProduct(n, rows)) {
    eigenSgemmNT(n, rows, cols, x, w, y, ldy);
    return;
  }
  singleThreadLibrary();
#if defined(LL_BLAS_OPENBLAS)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, blasint(rows), blasint(cols), 1.0f, x,
              blasint(cols), w, blasint(cols), 0.0f, y, blasint(ldy));
#elif defined(LL_BLAS_BLIS)
  // W^T through strides: element (k, j) of the [cols, rows] operand is w[j * cols + k].
  float one = 1.0f, zero = 0.0f;
  bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, n, rows, cols, &one, const_cast<float*>(x), cols,
            1, const_cast<float*>(w), 1, cols, &zero, y, ldy, 1);
#elif defined(LL_BLAS_DNNL)
  dnnlSgemmNT(n, rows, cols, x, w, y, ldy);
#else
  eigenSgemmNT(n, rows, cols, x, w, y, ldy);
#endif
}

int sgemmLibraryThreads() {
#if defined(LL_BLAS_OPENBLAS)
  return openblas_get_num_threads();
#elif defined(LL_BLAS_BLIS)
  return int(bli_thread_get_num_threads());
#elif defined(LL_BLAS_DNNL)
  return omp_get_max_threads();
#else
  return Eigen::nbThreads();
#endif
}

std::string sgemmLibrary() {
#if defined(LL_BLAS_OPENBLAS)
  // e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... Cooperlake MAX_THREADS=64": keep the
  // version, name the kernel set the CPU got and the OpenMP build (Debian's alternatives switch
  // libopenblas.so.0 between the pthread and OpenMP builds under a linked program).
  const std::string config = openblas_get_config();
  const auto sp = config.find(' ', config.find(' ') + 1);
  const bool omp = config.find("USE_OPENMP") != std::string::npos;
  return config.substr(0, sp) + " " + openblas_get_corename() + (omp ? " OpenMP" : "");
#elif defined(LL_BLAS_BLIS)
  return std::string("BLIS ") + bli_info_get_version_str() + " " +
         bli_arch_string(bli_arch_query_id());
#elif defined(LL_BLAS_DNNL)
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch);
#else
  return "Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
         std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION);
#endif
}

}  // namespace ll::kern
