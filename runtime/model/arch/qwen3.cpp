// qwen3 (Qwen3 0.6B-32B dense): per-head q/k RMSNorm before NEOX RoPE, head_dim from key_length,
// no biases.
#include "runtime/model/arch/families.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

const ArchDesc& qwen3() {
  static const ArchDesc a{
      .name = "qwen3",
      .hfClasses = {"Qwen3ForCausalLM"},
      .tensors = concat({embeddingAndHead(), separateQkvAttention(), qkNorms(QkNorm::PerHead),
                         gatedFfn("layers.{L}.post_attention_layernorm.weight")}),
      .qkNorm = QkNorm::PerHead,
      .ropeNeox = true,
      .hfExtra = [](const ConfigReader& r, ModelSpec& s) { s.nFf = r.reqInt("intermediate_size"); },
  };
  return a;
}

}  // namespace ll::rt::arch
