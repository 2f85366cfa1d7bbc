// phi3 (Phi-3, 3.5, Phi-4-mini): fused attn_qkv ([Q | K | V] rows) and ffn_up ([gate | up] rows,
// SwiGLU), NEOX RoPE with LongRoPE factors (long when the context exceeds the original one, with
// its attention factor), sliding window on every layer when the file gives one. HF: qkv_proj and
// gate_up_proj have the same row order; the factors are rope_scaling lists there, tensors in GGUF.
#include <cmath>
#include <cstring>
#include <optional>

#include "runtime/model/arch/families.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

namespace {

struct Factors {
  std::vector<float> values;
  std::string name;  // for messages
};

// The one LongRoPE rule of both loaders: llama.cpp uses the long factors when the context it runs
// with (the trained one by default) exceeds the original context, else the short ones (either
// when only one is given); the attention factor is the file's, or else HF
// Phi3LongRoPEScaledRotaryEmbedding's sqrt(1 + ln(scale) / ln(original context)) for long
// contexts. fail must throw.
void applyLongRope(ModelSpec& s, int orig, const std::optional<Factors>& lng,
                   const std::optional<Factors>& sht, std::optional<double> attnFactor,
                   const std::function<void(const std::string&)>& fail) {
  if (!lng && !sht) return;
  const bool useLong = s.nCtx > orig;
  const Factors& f = useLong ? (lng ? *lng : *sht) : (sht ? *sht : *lng);
  const size_t pairs = size_t(s.rope.nRot / 2);
  if (f.values.size() != pairs)
    fail(f.name + " has " + std::to_string(f.values.size()) + " factors, expected " +
         std::to_string(pairs));
  for (float x : f.values)
    if (!(x > 0.0f) || !std::isfinite(x)) fail(f.name + " holds a non-positive factor");
  s.rope.freqFactors = f.values;
  if (attnFactor) {
    s.rope.attnFactor = float(*attnFactor);
  } else if (useLong && orig > 1) {
    const double scale = double(s.nCtx) / orig;
    s.rope.attnFactor = float(std::sqrt(1.0 + std::log(scale) / std::log(double(orig))));
  }
  if (!(s.rope.attnFactor > 0.0f) || !std::isfinite(s.rope.attnFactor))
    fail("the LongRoPE attention factor must be positive");
}

void readGgufLongRope(const GgufSpecReader& r, ModelSpec& s) {
  const GgufFile& f = r.file();
  const int pairs = s.rope.nRot / 2;
  auto factors = [&](const char* name) -> std::optional<Factors> {
    const GgufTensorInfo* t = f.tensor(name);
    if (!t) return std::nullopt;
    if (t->type != kern::QType::F32 || t->ne.size() != 1 || t->ne[0] != pairs)
      r.fail(t->name + " must be F32 [" + std::to_string(pairs) + "]");
    Factors out{std::vector<float>(size_t(pairs)), t->name};
    std::memcpy(out.values.data(), t->data, size_t(pairs) * 4);
    return out;
  };
  applyLongRope(s, r.optInt("rope.scaling.original_context_length").value_or(s.nCtx),
                factors("rope_factors_long.weight"), factors("rope_factors_short.weight"),
                r.optFloat("rope.scaling.attn_factor"), [&](const std::string& m) { r.fail(m); });
}

void readHfConfig(const ConfigReader& r, ModelSpec& s) {
  s.nFf = r.reqInt("intermediate_size");
  if (auto act = r.raw().find("hidden_act");
      act != r.raw().end() && !act->is_null() && *act != "silu")
    r.fail("unsupported hidden_act " + act->dump() + " (supported: silu)");
  // convert_hf_to_gguf: rope dims = int(partial_rotary_factor * n_embd) // n_head.
  if (auto prf = r.optFloat("partial_rotary_factor")) {
    if (!(*prf > 0 && *prf <= 1)) r.fail("'partial_rotary_factor' must be in (0, 1]");
    if (s.nHead > 0) s.rope.nRot = int(*prf * s.nEmbd) / s.nHead;
  }
  s.window = r.optInt("sliding_window").value_or(0);
  if (!r.has("rope_scaling")) return;
  const auto& rs = r.raw()["rope_scaling"];
  std::string type;
  for (const char* k : {"rope_type", "type"})
    if (rs.contains(k) && rs[k].is_string()) type = rs[k].get<std::string>();
  if (type != "longrope" && type != "su") return;  // default / linear: the common reader's
  auto list = [&](const char* k) {
    if (!rs.contains(k) || !rs[k].is_array())
      r.fail(std::string("rope_scaling.") + k + " is not a list of numbers");
    Factors f{{}, std::string("rope_scaling.") + k};
    for (const auto& x : rs[k]) {
      if (!x.is_number()) r.fail(f.name + " is not a list of numbers");
      f.values.push_back(float(x.get<double>()));
    }
    return f;
  };
  // The original context: top-level (Phi-3 configs, what convert_hf_to_gguf reads) or in
  // rope_scaling (newer transformers).
  std::optional<int> orig = r.optInt("original_max_position_embeddings");
  if (!orig && rs.contains("original_max_position_embeddings")) {
    const auto& o = rs["original_max_position_embeddings"];
    if (!o.is_number_integer() || o.get<int64_t>() < 1 || o.get<int64_t>() > INT_MAX)
      r.fail("rope_scaling.original_max_position_embeddings is not a positive integer");
    orig = int(o.get<int64_t>());
  }
  if (!orig) r.fail("longrope rope_scaling without original_max_position_embeddings");
  std::optional<double> attn;
  if (rs.contains("attention_factor") && !rs["attention_factor"].is_null()) {
    if (!rs["attention_factor"].is_number())
      r.fail("rope_scaling.attention_factor is not a number");
    attn = rs["attention_factor"].get<double>();
  }
  applyLongRope(s, *orig, list("long_factor"), list("short_factor"), attn,
                [&](const std::string& m) { r.fail(m); });
}

}  // namespace

const ArchDesc& phi3() {
  using D = Dim;
  using R = Role;
  constexpr auto W = When::Always;
  constexpr auto S = Split::None;
  static const ArchDesc a{
      .name = "phi3",
      .hfClasses = {"Phi3ForCausalLM"},
      .tensors = concat(
          {embeddingAndHead(),
           {
               {R::RopeFactorsLong, "rope_factors_long.weight", {D::RopePairs}, 1, When::Optional},
               {R::RopeFactorsShort,
                "rope_factors_short.weight",
                {D::RopePairs},
                1,
                When::Optional},
               {R::AttnNorm,
                "blk.{L}.attn_norm.weight",
                {D::Embd},
                1,
                W,
                S,
                "layers.{L}.input_layernorm.weight"},
               {R::Wqkv,
                "blk.{L}.attn_qkv.weight",
                {D::Embd, D::Qkv},
                2,
                W,
                Split::QkvRows,
                "layers.{L}.self_attn.qkv_proj.weight"},
               {R::Wo,
                "blk.{L}.attn_output.weight",
                {D::Q, D::Embd},
                2,
                W,
                S,
                "layers.{L}.self_attn.o_proj.weight"},
               {R::FfnNorm,
                "blk.{L}.ffn_norm.weight",
                {D::Embd},
                1,
                W,
                S,
                "layers.{L}.post_attention_layernorm.weight"},
               {R::GateUp,
                "blk.{L}.ffn_up.weight",
                {D::Embd, D::Ff2},
                2,
                W,
                Split::GateUpRows,
                "layers.{L}.mlp.gate_up_proj.weight"},
               {R::Down,
                "blk.{L}.ffn_down.weight",
                {D::Ff, D::Embd},
                2,
                W,
                S,
                "layers.{L}.mlp.down_proj.weight"},
           }}),
      .ropeNeox = true,
      .windowLayers = WindowLayers::All,
      .hfRopeTypes = {"longrope", "su"},
      .ggufExtra = readGgufLongRope,
      .hfExtra = readHfConfig,
  };
  return a;
}

}  // namespace ll::rt::arch
