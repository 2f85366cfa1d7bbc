// qwen2 (Qwen 2 / 2.5): llama block with required q/k/v biases and NEOX RoPE.
#include "runtime/model/arch/families.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

const ArchDesc& qwen2() {
  static const ArchDesc a{
      .name = "qwen2",
      .hfClasses = {"Qwen2ForCausalLM"},
      .tensors = concat({embeddingAndHead(), separateQkvAttention(),
                         gatedFfn("layers.{L}.post_attention_layernorm.weight")}),
      .ropeNeox = true,
      .qkvBias = true,
      .hfExtra = [](const ConfigReader& r, ModelSpec& s) { s.nFf = r.reqInt("intermediate_size"); },
  };
  return a;
}

}  // namespace ll::rt::arch
