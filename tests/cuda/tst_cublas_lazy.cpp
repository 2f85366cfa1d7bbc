// cuBLAS is loaded when a CUDA backend is created, not at process start (kernels/cuda/
// cublas_loader.h): a CPU-only run of a CUDA-enabled build must not carry libcublasLt's ~150 MiB.
// No GPU needed: the library loads without one. Skips in a build without CUDA.
#include <fstream>
#include <string>

#include "kernels/backends.h"
#include "lltest.h"
#if LL_HAVE_CUDA
#include "kernels/cuda/cublas_loader.h"
#endif

using namespace ll::kern;

namespace {

#if LL_HAVE_CUDA
// Whether this process has mapped libcublas (or libcublasLt) yet.
bool cublasMapped() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("libcublas") != std::string::npos) return true;
  return false;
}

// Runs first: nothing before it in this process created a CUDA backend.
LL_TEST(notMappedAtStartNorByACpuBackend) {
  QVERIFY2(!cublasMapped(), "libcublas is mapped before anything asked for it");
  auto cpu = makeCpuBackend(1);
  QVERIFY(cpu != nullptr);
  std::string why;
  auto gpu = makeCudaBackend(&why);
  if (gpu) QSKIP("a GPU is present: creating its backend loads cuBLAS, as it should");
  QVERIFY2(!cublasMapped(), "looking for a GPU loaded cuBLAS (" + why + ")");
}

LL_TEST(loaderResolvesEveryEntryPoint) {
  std::string why;
  const cuda::CublasApi* api = cuda::cublasApi(&why);
  QVERIFY2(api != nullptr, why);
  QVERIFY(api->create && api->destroy && api->setStream && api->setMathMode && api->sgemm &&
          api->gemmEx);
  QVERIFY(cublasMapped());
  QVERIFY(cuda::cublasApi() == api);  // loaded once
}
#else
LL_TEST(builtWithoutCuda) {
  QVERIFY(!cudaBackendBuilt());
  QSKIP("built without CUDA: there is no cuBLAS to load");
}
#endif

}  // namespace

LL_TEST_MAIN("tst_cublas_lazy")
