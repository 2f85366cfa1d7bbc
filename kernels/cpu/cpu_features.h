// Runtime detection of the x86 features the CPU backend's fast math mode needs (AVX-512 with
// BF16 and VNNI dot products), so one binary runs everywhere and uses them only where present.
#pragma once

#include <string>

namespace ll::kern {

struct CpuFeatures {
  bool avx512f = false, avx512bw = false, avx512vl = false;
  bool avx512bf16 = false;  // vdpbf16ps: bf16 pair dot products, f32 accumulation
  bool avx512vnni = false;  // vpdpbusd: u8 x s8 quad dot products, i32 accumulation

  // The bf16 kernels (F16/BF16 weights) and the int8 kernels (the quantized weight types).
  bool bf16Kernels() const { return avx512f && avx512bw && avx512vl && avx512bf16; }
  bool int8Kernels() const { return avx512f && avx512bw && avx512vl && avx512vnni; }
  // e.g. "avx512f avx512bw avx512vl avx512_bf16 avx512_vnni" (the ones present).
  std::string describe() const;
};

// What this CPU and OS support (cpuid plus the OS's saved register state, via the compiler's
// __builtin_cpu_supports); computed once.
const CpuFeatures& detectedCpuFeatures();

}  // namespace ll::kern
