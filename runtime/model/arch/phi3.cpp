// phi3 (Phi-3, 3.5, Phi-4-mini): fused attn_qkv ([Q | K | V] rows) and ffn_up ([gate | up] rows,
// SwiGLU), NEOX RoPE with LongRoPE factors (long when the context exceeds the original one, with
// its attention factor), sliding window on every layer when the file gives one.
#include <cmath>
#include <cstring>

#include "runtime/model/arch/families.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

namespace {

void readLongRope(const GgufSpecReader& r, ModelSpec& s) {
  const GgufFile& f = r.file();
  const GgufTensorInfo* lng = f.tensor("rope_factors_long.weight");
  const GgufTensorInfo* sht = f.tensor("rope_factors_short.weight");
  if (!lng && !sht) return;
  const int orig = r.optInt("rope.scaling.original_context_length").value_or(s.nCtx);
  // llama.cpp uses the long factors when the context it runs with (the trained one by default)
  // exceeds the original context.
  const bool useLong = s.nCtx > orig;
  const GgufTensorInfo* t = useLong ? lng : sht;
  if (!t) t = lng ? lng : sht;
  const int pairs = s.rope.nRot / 2;
  if (t->type != kern::QType::F32 || t->ne.size() != 1 || t->ne[0] != pairs)
    r.fail(t->name + " must be F32 [" + std::to_string(pairs) + "]");
  s.rope.freqFactors.resize(size_t(pairs));
  std::memcpy(s.rope.freqFactors.data(), t->data, size_t(pairs) * 4);
  for (float x : s.rope.freqFactors)
    if (!(x > 0.0f) || !std::isfinite(x)) r.fail(t->name + " holds a non-positive factor");
  if (auto af = r.optFloat("rope.scaling.attn_factor")) {
    s.rope.attnFactor = float(*af);
  } else if (useLong && orig > 1) {
    // HF Phi3LongRoPEScaledRotaryEmbedding: sqrt(1 + ln(scale) / ln(original context)).
    const double scale = double(s.nCtx) / orig;
    s.rope.attnFactor = float(std::sqrt(1.0 + std::log(scale) / std::log(double(orig))));
  }
  if (!(s.rope.attnFactor > 0.0f) || !std::isfinite(s.rope.attnFactor))
    r.fail("rope.scaling.attn_factor must be positive");
}

}  // namespace

const ArchDesc& phi3() {
  using D = Dim;
  using R = Role;
  constexpr auto W = When::Always;
  static const ArchDesc a{
      .name = "phi3",
      .tensors =
          {
              {R::TokenEmbd, "token_embd.weight", {D::Embd, D::Vocab}, 2},
              {R::OutputNorm, "output_norm.weight", {D::Embd}, 1},
              {R::Output, "output.weight", {D::Embd, D::Vocab}, 2, When::Untied},
              {R::RopeFactorsLong, "rope_factors_long.weight", {D::RopePairs}, 1, When::Optional},
              {R::RopeFactorsShort, "rope_factors_short.weight", {D::RopePairs}, 1, When::Optional},
              {R::AttnNorm, "blk.{L}.attn_norm.weight", {D::Embd}, 1},
              {R::Wqkv, "blk.{L}.attn_qkv.weight", {D::Embd, D::Qkv}, 2, W, Split::QkvRows},
              {R::Wo, "blk.{L}.attn_output.weight", {D::Q, D::Embd}, 2},
              {R::FfnNorm, "blk.{L}.ffn_norm.weight", {D::Embd}, 1},
              {R::GateUp, "blk.{L}.ffn_up.weight", {D::Embd, D::Ff2}, 2, W, Split::GateUpRows},
              {R::Down, "blk.{L}.ffn_down.weight", {D::Ff, D::Embd}, 2},
          },
      .ropeNeox = true,
      .windowLayers = WindowLayers::All,
      .ggufExtra = readLongRope,
  };
  return a;
}

}  // namespace ll::rt::arch
