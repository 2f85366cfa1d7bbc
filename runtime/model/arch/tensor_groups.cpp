// The shared tensor-table pieces.
#include "runtime/model/arch/tensor_groups.h"

namespace ll::rt::arch {

namespace {
using D = Dim;
using W = When;
using R = Role;
using H = HfTransform;
}  // namespace

std::vector<TensorDesc> concat(std::initializer_list<std::vector<TensorDesc>> parts) {
  std::vector<TensorDesc> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<TensorDesc> embeddingAndHead() {
  return {
      {R::TokenEmbd,
       "token_embd.weight",
       {D::Embd, D::Vocab},
       2,
       W::Always,
       Split::None,
       "embed_tokens.weight"},
      {R::OutputNorm, "output_norm.weight", {D::Embd}, 1, W::Always, Split::None, "norm.weight"},
      {R::Output,
       "output.weight",
       {D::Embd, D::Vocab},
       2,
       W::Untied,
       Split::None,
       "lm_head.weight"},
  };
}

std::vector<TensorDesc> separateQkvAttention(HfTransform q, HfTransform k) {
  constexpr When bias = When::QkvBias;
  return {
      {R::AttnNorm,
       "blk.{L}.attn_norm.weight",
       {D::Embd},
       1,
       W::Always,
       Split::None,
       "layers.{L}.input_layernorm.weight"},
      {R::Wq,
       "blk.{L}.attn_q.weight",
       {D::Embd, D::Q},
       2,
       W::Always,
       Split::None,
       "layers.{L}.self_attn.q_proj.weight",
       q},
      {R::Wk,
       "blk.{L}.attn_k.weight",
       {D::Embd, D::Kv},
       2,
       W::Always,
       Split::None,
       "layers.{L}.self_attn.k_proj.weight",
       k},
      {R::Wv,
       "blk.{L}.attn_v.weight",
       {D::Embd, D::Kv},
       2,
       W::Always,
       Split::None,
       "layers.{L}.self_attn.v_proj.weight"},
      {R::Bq,
       "blk.{L}.attn_q.bias",
       {D::Q},
       1,
       bias,
       Split::None,
       "layers.{L}.self_attn.q_proj.bias",
       q},
      {R::Bk,
       "blk.{L}.attn_k.bias",
       {D::Kv},
       1,
       bias,
       Split::None,
       "layers.{L}.self_attn.k_proj.bias",
       k},
      {R::Bv,
       "blk.{L}.attn_v.bias",
       {D::Kv},
       1,
       bias,
       Split::None,
       "layers.{L}.self_attn.v_proj.bias"},
      {R::Wo,
       "blk.{L}.attn_output.weight",
       {D::Q, D::Embd},
       2,
       W::Always,
       Split::None,
       "layers.{L}.self_attn.o_proj.weight"},
  };
}

std::vector<TensorDesc> qkNorms(QkNorm kind) {
  const bool head = kind == QkNorm::PerHead;
  return {
      {R::QNorm,
       "blk.{L}.attn_q_norm.weight",
       {head ? D::HeadDim : D::Q},
       1,
       W::Always,
       Split::None,
       "layers.{L}.self_attn.q_norm.weight"},
      {R::KNorm,
       "blk.{L}.attn_k_norm.weight",
       {head ? D::HeadDim : D::Kv},
       1,
       W::Always,
       Split::None,
       "layers.{L}.self_attn.k_norm.weight"},
  };
}

std::vector<TensorDesc> gatedFfn(const char* ffnNormHf) {
  return {
      {R::FfnNorm, "blk.{L}.ffn_norm.weight", {D::Embd}, 1, W::Always, Split::None, ffnNormHf},
      {R::Gate,
       "blk.{L}.ffn_gate.weight",
       {D::Embd, D::Ff},
       2,
       W::Dense,
       Split::None,
       "layers.{L}.mlp.gate_proj.weight"},
      {R::Up,
       "blk.{L}.ffn_up.weight",
       {D::Embd, D::Ff},
       2,
       W::Dense,
       Split::None,
       "layers.{L}.mlp.up_proj.weight"},
      {R::Down,
       "blk.{L}.ffn_down.weight",
       {D::Ff, D::Embd},
       2,
       W::Dense,
       Split::None,
       "layers.{L}.mlp.down_proj.weight"},
  };
}

std::vector<TensorDesc> routedExperts() {
  return {
      {R::Router,
       "blk.{L}.ffn_gate_inp.weight",
       {D::Embd, D::Expert},
       2,
       W::Moe,
       Split::None,
       "layers.{L}.mlp.gate.weight|layers.{L}.block_sparse_moe.gate.weight"},
      {R::GateExps,
       "blk.{L}.ffn_gate_exps.weight",
       {D::Embd, D::FfExp, D::Expert},
       3,
       W::Moe,
       Split::PerExpert,
       "layers.{L}.mlp.experts.{E}.gate_proj.weight|layers.{L}.block_sparse_moe.experts.{E}.w1."
       "weight"},
      {R::UpExps,
       "blk.{L}.ffn_up_exps.weight",
       {D::Embd, D::FfExp, D::Expert},
       3,
       W::Moe,
       Split::PerExpert,
       "layers.{L}.mlp.experts.{E}.up_proj.weight|layers.{L}.block_sparse_moe.experts.{E}.w3."
       "weight"},
      {R::DownExps,
       "blk.{L}.ffn_down_exps.weight",
       {D::FfExp, D::Embd, D::Expert},
       3,
       W::Moe,
       Split::PerExpert,
       "layers.{L}.mlp.experts.{E}.down_proj.weight|layers.{L}.block_sparse_moe.experts.{E}.w2."
       "weight"},
  };
}

void readQwenMoeHfConfig(const ConfigReader& r, ModelSpec& s, const char* family) {
  s.nExpert = r.reqInt("num_experts");
  s.nExpertUsed = r.reqInt("num_experts_per_tok");
  s.nFfExpert = r.reqInt("moe_intermediate_size");
  if (r.optInt("decoder_sparse_step").value_or(1) != 1 ||
      (r.has("mlp_only_layers") && !r.raw()["mlp_only_layers"].empty()))
    r.fail(std::string(family) +
           " with dense layers (decoder_sparse_step / mlp_only_layers) is not supported");
}

}  // namespace ll::rt::arch
