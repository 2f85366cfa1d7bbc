// The registry of supported architectures: one line per family.
#include "runtime/model/arch/families.h"

namespace ll::rt {

const std::vector<const ArchDesc*>& architectures() {
  static const std::vector<const ArchDesc*> all = {
      &arch::llama(),  &arch::qwen2(), &arch::gpt2(),     &arch::qwen2moe(),
      &arch::olmoe(),  &arch::qwen3(), &arch::qwen3moe(), &arch::gemma2(),
      &arch::gemma3(), &arch::phi3(),  &arch::gptOss(),
  };
  return all;
}

}  // namespace ll::rt
