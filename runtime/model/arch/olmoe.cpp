// olmoe: RMSNorm over the whole q and k vectors before the head split, 8+ routed experts,
// softmax -> top-k, renormalised only when the file says so.
#include "runtime/model/arch/families.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

const ArchDesc& olmoe() {
  static const ArchDesc a{
      .name = "olmoe",
      .hfClasses = {"OlmoeForCausalLM"},
      .tensors = concat({embeddingAndHead(), separateQkvAttention(), qkNorms(QkNorm::Full),
                         gatedFfn("layers.{L}.post_attention_layernorm.weight"), routedExperts()}),
      .qkNorm = QkNorm::Full,
      .ropeNeox = true,
      .allowMoe = true,
      .moeOnly = true,
      .expertNorm = ExpertNorm::FromKey,
      .hfExtra =
          [](const ConfigReader& r, ModelSpec& s) {
            s.nExpert = r.reqInt("num_experts");
            s.nExpertUsed = r.reqInt("num_experts_per_tok");
            s.nFfExpert = r.reqInt("intermediate_size");
            s.expertWeightsNorm = r.optBool("norm_topk_prob").value_or(false);
          },
  };
  return a;
}

}  // namespace ll::rt::arch
