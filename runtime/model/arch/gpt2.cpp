// gpt2: LayerNorm with biases, learned positions, fused qkv with bias, biased linear layers, plain
// tanh-GELU FFN; HF Conv1D weights are [in, out] and are transposed at load.
#include "runtime/model/arch/families.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

const ArchDesc& gpt2() {
  using D = Dim;
  using R = Role;
  using W = When;
  constexpr auto S = Split::None;
  constexpr auto T = HfTransform::Transpose;
  static const ArchDesc a{
      .name = "gpt2",
      .hfClasses = {"GPT2LMHeadModel"},
      .tensors =
          {
              {R::TokenEmbd,
               "token_embd.weight",
               {D::Embd, D::Vocab},
               2,
               W::Always,
               S,
               "wte.weight"},
              {R::PosEmbd,
               "position_embd.weight",
               {D::Embd, D::Ctx},
               2,
               W::Always,
               S,
               "wpe.weight"},
              {R::OutputNorm, "output_norm.weight", {D::Embd}, 1, W::Always, S, "ln_f.weight"},
              {R::OutputNormB, "output_norm.bias", {D::Embd}, 1, W::Always, S, "ln_f.bias"},
              {R::Output, "output.weight", {D::Embd, D::Vocab}, 2, W::Untied, S, "lm_head.weight"},
              {R::AttnNorm,
               "blk.{L}.attn_norm.weight",
               {D::Embd},
               1,
               W::Always,
               S,
               "h.{L}.ln_1.weight"},
              {R::AttnNormB,
               "blk.{L}.attn_norm.bias",
               {D::Embd},
               1,
               W::Always,
               S,
               "h.{L}.ln_1.bias"},
              {R::Wqkv,
               "blk.{L}.attn_qkv.weight",
               {D::Embd, D::Qkv},
               2,
               W::Always,
               Split::QkvRows,
               "h.{L}.attn.c_attn.weight",
               T},
              {R::Bqkv,
               "blk.{L}.attn_qkv.bias",
               {D::Qkv},
               1,
               W::Always,
               Split::QkvRows,
               "h.{L}.attn.c_attn.bias"},
              {R::Wo,
               "blk.{L}.attn_output.weight",
               {D::Q, D::Embd},
               2,
               W::Always,
               S,
               "h.{L}.attn.c_proj.weight",
               T},
              {R::Bo,
               "blk.{L}.attn_output.bias",
               {D::Embd},
               1,
               W::Always,
               S,
               "h.{L}.attn.c_proj.bias"},
              {R::FfnNorm,
               "blk.{L}.ffn_norm.weight",
               {D::Embd},
               1,
               W::Always,
               S,
               "h.{L}.ln_2.weight"},
              {R::FfnNormB, "blk.{L}.ffn_norm.bias", {D::Embd}, 1, W::Always, S, "h.{L}.ln_2.bias"},
              {R::Up,
               "blk.{L}.ffn_up.weight",
               {D::Embd, D::Ff},
               2,
               W::Always,
               S,
               "h.{L}.mlp.c_fc.weight",
               T},
              {R::UpB, "blk.{L}.ffn_up.bias", {D::Ff}, 1, W::Always, S, "h.{L}.mlp.c_fc.bias"},
              {R::Down,
               "blk.{L}.ffn_down.weight",
               {D::Ff, D::Embd},
               2,
               W::Always,
               S,
               "h.{L}.mlp.c_proj.weight",
               T},
              {R::DownB,
               "blk.{L}.ffn_down.bias",
               {D::Embd},
               1,
               W::Always,
               S,
               "h.{L}.mlp.c_proj.bias"},
          },
      .norm = NormKind::LayerNorm,
      .act = Activation::GeluTanh,
      .learnedPos = true,
      .hasRope = false,
      .qkvBias = true,
      .hfPrefix = "transformer.",
      .hfTiedByDefault = true,
      .hfLlamaConfig = false,
      .hfExtra =
          [](const ConfigReader& r, ModelSpec& s) {
            s.nEmbd = r.reqInt("n_embd");
            s.nLayer = r.reqInt("n_layer");
            s.nHead = r.reqInt("n_head");
            s.nHeadKv = s.nHead;
            s.nFf = r.optInt("n_inner").value_or(4 * s.nEmbd);
            s.nCtx = r.optInt("n_positions").value_or(r.optInt("n_ctx").value_or(1024));
            s.normEps = float(r.optFloat("layer_norm_epsilon").value_or(1e-5));
            s.nVocab = r.reqInt("vocab_size");
            if (s.nHead == 0 || s.nEmbd % s.nHead) r.fail("n_embd is not a multiple of n_head");
            s.headDim = s.nEmbd / s.nHead;
          },
  };
  return a;
}

}  // namespace ll::rt::arch
