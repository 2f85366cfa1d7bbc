// The registry's list: one line per supported family, in the order error messages list them.
// Each LL_ARCH(fn) names a function `const ArchDesc& fn()` defined in this folder's fn file;
// registry.cpp turns the list into architectures(). Adding a family: its file plus one line here.
#pragma once

#include "runtime/model/arch.h"

#define LL_ARCH_FAMILIES(LL_ARCH) \
  LL_ARCH(llama)                  \
  LL_ARCH(qwen2)                  \
  LL_ARCH(gpt2)                   \
  LL_ARCH(qwen2moe)               \
  LL_ARCH(olmoe)                  \
  LL_ARCH(qwen3)                  \
  LL_ARCH(qwen3moe)               \
  LL_ARCH(gemma2)                 \
  LL_ARCH(gemma3)                 \
  LL_ARCH(phi3)                   \
  LL_ARCH(gptOss)

namespace ll::rt::arch {

#define LL_ARCH_DECLARE(fn) const ArchDesc& fn();
LL_ARCH_FAMILIES(LL_ARCH_DECLARE)
#undef LL_ARCH_DECLARE

}  // namespace ll::rt::arch
