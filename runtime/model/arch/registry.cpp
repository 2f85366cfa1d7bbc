// architectures(): the families listed in families.h, in that order.
#include "runtime/model/arch/families.h"

namespace ll::rt {

const std::vector<const ArchDesc*>& architectures() {
#define LL_ARCH_ENTRY(fn) &arch::fn(),
  static const std::vector<const ArchDesc*> all = {LL_ARCH_FAMILIES(LL_ARCH_ENTRY)};
#undef LL_ARCH_ENTRY
  return all;
}

}  // namespace ll::rt
