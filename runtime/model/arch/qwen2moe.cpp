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
            s.nExpert = r.reqInt("num_experts");
            s.nExpertUsed = r.reqInt("num_experts_per_tok");
            s.nFfExpert = r.reqInt("moe_intermediate_size");
            s.nFfShexp = r.optInt("shared_expert_intermediate_size").value_or(0);
            s.expertWeightsNorm = r.optBool("norm_topk_prob").value_or(false);
            if (r.optInt("decoder_sparse_step").value_or(1) != 1 ||
                (r.has("mlp_only_layers") && !r.raw()["mlp_only_layers"].empty()))
              r.fail(
                  "qwen2moe with dense layers (decoder_sparse_step / mlp_only_layers) is not "
                  "supported");
          },
  };
  return a;
}

}  // namespace ll::rt::arch
