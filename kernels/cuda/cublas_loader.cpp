// cuBLAS loaded on first use: see cublas_loader.h.
#include "kernels/cuda/cublas_loader.h"

#include <dlfcn.h>

#include <mutex>
#include <string>
#include <vector>

namespace ll::kern::cuda {
namespace {

struct Loaded {
  CublasApi api{};
  bool ok = false;
  std::string why;
};

// The sonames to try, in order: this toolkit's major version by the loader's search path (an
// installed CUDA registers its lib directory), then the toolkit this was built against.
std::vector<std::string> candidates() {
  const std::string so = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  std::vector<std::string> c{so};
#ifdef LL_CUDA_LIBRARY_DIR
  c.push_back(std::string(LL_CUDA_LIBRARY_DIR) + "/" + so);
#endif
  return c;
}

template <class F>
bool bind(void* lib, const char* name, F& out, std::string& why) {
  out = reinterpret_cast<F>(dlsym(lib, name));
  if (!out) why = std::string("cuBLAS has no entry point ") + name;
  return out != nullptr;
}

Loaded load() {
  Loaded l;
  void* lib = nullptr;
  std::string errors;
  for (const std::string& name : candidates()) {
    lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) break;
    const char* e = dlerror();
    errors += (errors.empty() ? "" : "; ") + std::string(e ? e : name + ": not loadable");
  }
  if (!lib) {
    l.why = "cuBLAS could not be loaded (" + errors + ")";
    return l;
  }
  CublasApi& a = l.api;
  l.ok = bind(lib, "cublasCreate_v2", a.create, l.why) &&
         bind(lib, "cublasDestroy_v2", a.destroy, l.why) &&
         bind(lib, "cublasSetStream_v2", a.setStream, l.why) &&
         bind(lib, "cublasSetMathMode", a.setMathMode, l.why) &&
         bind(lib, "cublasSgemm_v2", a.sgemm, l.why) && bind(lib, "cublasGemmEx", a.gemmEx, l.why);
  return l;
}

}  // namespace

const CublasApi* cublasApi(std::string* why) {
  static std::once_flag once;
  static Loaded loaded;
  std::call_once(once, [] { loaded = load(); });
  if (!loaded.ok && why) *why = loaded.why;
  return loaded.ok ? &loaded.api : nullptr;
}

}  // namespace ll::kern::cuda
