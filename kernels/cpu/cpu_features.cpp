// Runtime CPU feature detection for the fast math mode's kernels.
#include "kernels/cpu/cpu_features.h"

namespace ll::kern {

std::string CpuFeatures::describe() const {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512bf16, "avx512_bf16");
  add(avx512vnni, "avx512_vnni");
  return s.empty() ? std::string("none of avx512f/bw/vl/bf16/vnni") : s;
}

const CpuFeatures& detectedCpuFeatures() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#if defined(__x86_64__) || defined(__i386__)
    // __builtin_cpu_supports also checks that the OS saves the AVX-512 state (XCR0).
    __builtin_cpu_init();
    c.avx512f = __builtin_cpu_supports("avx512f");
    c.avx512bw = __builtin_cpu_supports("avx512bw");
    c.avx512vl = __builtin_cpu_supports("avx512vl");
    c.avx512bf16 = __builtin_cpu_supports("avx512bf16");
    c.avx512vnni = __builtin_cpu_supports("avx512vnni");
#endif
    return c;
  }();
  return f;
}

}  // namespace ll::kern
