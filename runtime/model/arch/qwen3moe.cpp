// qwen3moe (Qwen3-30B-A3B, 235B-A22B): qwen3 attention, routed experts only (softmax over all
// experts, top-k, renormalised), no shared expert.
#include "runtime/model/arch/families.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

const ArchDesc& qwen3moe() {
  static const ArchDesc a{
      .name = "qwen3moe",
      .hfClasses = {"Qwen3MoeForCausalLM"},
      .tensors = concat({embeddingAndHead(), separateQkvAttention(), qkNorms(QkNorm::PerHead),
                         gatedFfn("layers.{L}.post_attention_layernorm.weight"), routedExperts()}),
      .qkNorm = QkNorm::PerHead,
      .ropeNeox = true,
      .allowMoe = true,
      .moeOnly = true,
      .expertNorm = ExpertNorm::Always,
      .hfExtra =
          [](const ConfigReader& r, ModelSpec& s) {
            readQwenMoeHfConfig(r, s, "qwen3moe");
            if (!r.optBool("norm_topk_prob").value_or(true))
              r.fail("qwen3moe with norm_topk_prob false is not supported");
          },
  };
  return a;
}

}  // namespace ll::rt::arch
