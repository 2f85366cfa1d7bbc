// qwen2moe: qwen2 attention (q/k/v biases, NEOX), routed experts (softmax -> top-k, not
// renormalised unless the file says so) plus a shared expert gated by sigmoid(x . w).
#include "runtime/model/arch/families.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

const ArchDesc& qwen2moe() {
  using D = Dim;
  using R = Role;
  static const ArchDesc a{
      .name = "qwen2moe",
      .hfClasses = {"Qwen2MoeForCausalLM"},
      .tensors = concat({embeddingAndHead(),
                         separateQkvAttention(),
                         gatedFfn("layers.{L}.post_attention_layernorm.weight"),
                         routedExperts(),
                         {
                             {R::ShexpGateInp,
                              "blk.{L}.ffn_gate_inp_shexp.weight",
                              {D::Embd},
                              1,
                              When::SharedExpert,
                              Split::None,
                              "layers.{L}.mlp.shared_expert_gate.weight",
                              HfTransform::Flatten},
                             {R::GateShexp,
                              "blk.{L}.ffn_gate_shexp.weight",
                              {D::Embd, D::FfShexp},
                              2,
                              When::SharedExpert,
                              Split::None,
                              "layers.{L}.mlp.shared_expert.gate_proj.weight"},
                             {R::UpShexp,
                              "blk.{L}.ffn_up_shexp.weight",
                              {D::Embd, D::FfShexp},
                              2,
                              When::SharedExpert,
                              Split::None,
                              "layers.{L}.mlp.shared_expert.up_proj.weight"},
                             {R::DownShexp,
                              "blk.{L}.ffn_down_shexp.weight",
                              {D::FfShexp, D::Embd},
                              2,
                              When::SharedExpert,
                              Split::None,
                              "layers.{L}.mlp.shared_expert.down_proj.weight"},
                         }}),
      .ropeNeox = true,
      .qkvBias = true,
      .allowMoe = true,
      .moeOnly = true,
      .expertNorm = ExpertNorm::FromKey,
      .sharedExpert = true,
      .hfExtra =
          [](const ConfigReader& r, ModelSpec& s) {
            readQwenMoeHfConfig(r, s, "qwen2moe");
            s.nFfShexp = r.optInt("shared_expert_intermediate_size").value_or(0);
            s.expertWeightsNorm = r.optBool("norm_topk_prob").value_or(false);
          },
  };
  return a;
}

}  // namespace ll::rt::arch
