// llama (Llama 2/3, Mistral, TinyLlama, SmolLM) and Mixtral-style MoE: interleaved RoPE rows in
// GGUF (HF q/k rows are permuted at load), optional q/k/v biases, softmax -> top-k -> renormalised.
#include "runtime/model/arch/families.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

const ArchDesc& llama() {
  static const ArchDesc a{
      .name = "llama",
      .hfClasses = {"LlamaForCausalLM", "MistralForCausalLM", "MixtralForCausalLM"},
      .tensors = concat({embeddingAndHead(),
                         separateQkvAttention(HfTransform::PermuteQ, HfTransform::PermuteK),
                         gatedFfn("layers.{L}.post_attention_layernorm.weight"), routedExperts()}),
      .allowMoe = true,
      .moeOnly = true,
      .expertNorm = ExpertNorm::Always,
      .hfExtra =
          [](const ConfigReader& r, ModelSpec& s) {
            if (!r.has("num_local_experts")) {
              s.nFf = r.reqInt("intermediate_size");
              return;
            }
            s.nExpert = r.reqInt("num_local_experts");
            s.nExpertUsed = r.reqInt("num_experts_per_tok");
            s.nFfExpert = r.reqInt("intermediate_size");
          },
  };
  return a;
}

}  // namespace ll::rt::arch
