// Stand-ins for the CUDA backend factory when LayerLens is built without CUDA (LL_HAVE_CUDA 0);
// kernels/cuda/ defines the real ones otherwise.
#if !LL_HAVE_CUDA

#include "kernels/backends.h"

namespace ll::kern {

std::unique_ptr<Backend> makeCudaBackend(std::string* why) {
  if (why) *why = "built without CUDA";
  return nullptr;
}

bool cudaBackendBuilt() {
  return false;
}

}  // namespace ll::kern

#endif  // !LL_HAVE_CUDA
