// The CPU backend's f32 GEMM through the build's BLAS library (LL_BLAS_* from CMake
// LAYERLENS_BLAS) or Eigen. Each call runs in the calling thread: the ThreadPool owns the
// parallelism, so panel boundaries (and results) never depend on the thread count.
#include "kernels/cpu/cpu_sgemm.h"

#include <Eigen/Core>
#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <vector>

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

void eigenSgemmNT(int n, int64_t rows, int64_t cols, const float* x, const float* w, float* y,
                  int64_t ldy) {
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstMap = Eigen::Map<const RowMat>;
  Eigen::Map<RowMat, 0, Eigen::OuterStride<>> Y(y, n, rows, Eigen::OuterStride<>(ldy));
  Y.noalias() = ConstMap(x, n, cols) * ConstMap(w, rows, cols).transpose();
}

#if defined(LL_BLAS_DNNL)
// oneDNN 2.6 computes a row of a product with 16 or more rows the same whatever the row count and
// the row's position (tst_cpu_sgemm checks it); below 16 rows it takes a small-M kernel that sums
// in another order.
constexpr int kDnnlMinRows = 16;

void dnnlSgemmNT(int n, int64_t rows, int64_t cols, const float* x, int64_t ldx, const float* w,
                 float* y, int64_t ldy) {
  if (dnnl_sgemm('N', 'T', n, rows, cols, 1.0f, x, ldx, w, cols, 0.0f, y, ldy) != dnnl_success)
    throw std::runtime_error("cpu backend: oneDNN sgemm failed (" + std::to_string(n) + "x" +
                             std::to_string(rows) + "x" + std::to_string(cols) + ")");
}
#endif

}  // namespace

void sgemmNT(int n, int64_t rows, int64_t cols, const float* x, const float* w, float* y,
             int64_t ldy) {
  if (n <= 0 || rows <= 0) return;
  // One activation row: Eigen's GEMV beats every library's sgemm on this product (bench_gemm,
  // tests/bench/RESULTS.md: 10-25% at n = 1), and decoding runs it once per weight per token.
  if (n == 1) {
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
  if (n >= kDnnlMinRows) {
    dnnlSgemmNT(n, rows, cols, x, cols, w, y, ldy);
    return;
  }
  // Fewer rows take another kernel: pad with zero rows so every row is computed as in a long
  // prompt (prefix reuse and recomputed rows then match the stored ones bit for bit).
  thread_local std::vector<float> xPad, yPad;
  xPad.assign(size_t(kDnnlMinRows) * cols, 0.0f);
  yPad.resize(size_t(kDnnlMinRows) * rows);
  std::copy(x, x + size_t(n) * cols, xPad.begin());
  dnnlSgemmNT(kDnnlMinRows, rows, cols, xPad.data(), cols, w, yPad.data(), rows);
  for (int i = 0; i < n; ++i)
    std::copy_n(yPad.data() + size_t(i) * rows, rows, y + size_t(i) * ldy);
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
