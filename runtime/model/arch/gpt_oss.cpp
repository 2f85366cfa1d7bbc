// gpt-oss: q/k/v/o biases, per-head attention sinks, sliding window on even layers, YaRN RoPE;
// every layer MoE with a biased router, top-k of the logits then softmax over the k chosen, biased
// experts with the clamped SwiGLU. The FFN's pre-norm is stored as post_attention_norm.
#include "runtime/model/arch/families.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

const ArchDesc& gptOss() {
  using D = Dim;
  using R = Role;
  constexpr auto W = When::Moe;
  constexpr auto E = Split::PerExpert;
  static const ArchDesc a{
      .name = "gpt-oss",
      .tensors =
          concat({embeddingAndHead(),
                  separateQkvAttention(),
                  {
                      {R::Bo, "blk.{L}.attn_output.bias", {D::Embd}, 1},
                      {R::Sinks, "blk.{L}.attn_sinks.weight", {D::Head}, 1},
                      {R::FfnNorm, "blk.{L}.post_attention_norm.weight", {D::Embd}, 1},
                      {R::RouterB, "blk.{L}.ffn_gate_inp.bias", {D::Expert}, 1, W},
                      {R::GateExpsB, "blk.{L}.ffn_gate_exps.bias", {D::FfExp, D::Expert}, 2, W, E},
                      {R::UpExpsB, "blk.{L}.ffn_up_exps.bias", {D::FfExp, D::Expert}, 2, W, E},
                      {R::DownExpsB, "blk.{L}.ffn_down_exps.bias", {D::Embd, D::Expert}, 2, W, E},
                  },
                  routedExperts()}),
      .act = Activation::SwiGluOai,
      .ropeNeox = true,
      .qkvBias = true,
      .attnSinks = true,
      .windowLayers = WindowLayers::Even,
      .allowMoe = true,
      .moeOnly = true,
      // Top-k of the logits then a softmax over the k chosen is exactly softmax -> top-k ->
      // renormalise (the top-1 logit is the max either way).
      .expertNorm = ExpertNorm::Always,
  };
  return a;
}

}  // namespace ll::rt::arch
