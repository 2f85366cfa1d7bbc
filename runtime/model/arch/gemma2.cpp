// gemma2: embedding x sqrt(n_embd), RMSNorm on each branch's output (post_attention_norm,
// post_ffw_norm), GELU-gated FFN, attention and final-logit soft-capping, sliding window on even
// layers, output tied to the embedding. GGUF norm weights already include Gemma's +1; HF ones get
// it at load (HfTransform::AddOne). Also the pieces gemma3 shares (gemma.h).
#include <cmath>

#include "runtime/model/arch/families.h"
#include "runtime/model/arch/gemma.h"
#include "runtime/model/arch/tensor_groups.h"
#include "runtime/model/spec_readers.h"

namespace ll::rt::arch {

namespace {

bool isNorm(Role r) {
  switch (r) {
    case Role::OutputNorm:
    case Role::AttnNorm:
    case Role::QNorm:
    case Role::KNorm:
    case Role::PostAttnNorm:
    case Role::FfnNorm:
    case Role::PostFfnNorm:
      return true;
    default:
      return false;
  }
}

// A Gemma config value that HF defaults when the key is absent and disables when it is null.
double optOrDefault(const ConfigReader& r, const char* key, double def) {
  if (!r.raw().contains(key)) return def;
  return r.optFloat(key).value_or(0.0);
}

}  // namespace

std::vector<TensorDesc> gemmaTensors(bool qkNorm) {
  std::vector<TensorDesc> t = concat({embeddingAndHead(),
                                      separateQkvAttention(),
                                      qkNorm ? qkNorms(QkNorm::PerHead) : std::vector<TensorDesc>{},
                                      gatedFfn("layers.{L}.pre_feedforward_layernorm.weight"),
                                      {
                                          {Role::PostAttnNorm,
                                           "blk.{L}.post_attention_norm.weight",
                                           {Dim::Embd},
                                           1,
                                           When::Always,
                                           Split::None,
                                           "layers.{L}.post_attention_layernorm.weight"},
                                          {Role::PostFfnNorm,
                                           "blk.{L}.post_ffw_norm.weight",
                                           {Dim::Embd},
                                           1,
                                           When::Always,
                                           Split::None,
                                           "layers.{L}.post_feedforward_layernorm.weight"},
                                      }});
  for (TensorDesc& d : t)
    if (isNorm(d.role)) d.hfTransform = HfTransform::AddOne;
  return t;
}

void readGemmaGguf(const GgufSpecReader& r, ModelSpec& s, int layers27b) {
  gemmaSoftcaps(s, r.optFloat("attn_logit_softcapping").value_or(0.0),
                r.optFloat("final_logit_softcapping").value_or(0.0),
                [&](const std::string& m) { r.fail(m); });
  if (s.nLayer == layers27b) gemmaQueryScale(s, double(s.nEmbd) / double(s.nHead));
}

void gemmaQueryScale(ModelSpec& s, double scalar) {
  if (scalar != double(s.headDim)) s.attnScale = 1.0f / std::sqrt(float(scalar));
}

void gemmaSoftcaps(ModelSpec& s, double attn, double final,
                   const std::function<void(const std::string&)>& fail) {
  if (attn < 0 || final < 0) fail("negative soft-capping value");
  s.attnSoftcap = float(attn);
  s.finalSoftcap = float(final);
}

void readGemmaHfConfig(const ConfigReader& r, ModelSpec& s, const GemmaHfDefaults& d) {
  s.nFf = r.reqInt("intermediate_size");
  for (const char* k : {"hidden_activation", "hidden_act"}) {
    if (!r.has(k)) continue;
    if (!r.raw()[k].is_string()) r.fail(std::string("'") + k + "' is not a string");
    const std::string act = r.raw()[k].get<std::string>();
    if (act != "gelu_pytorch_tanh" && act != "gelu_new")
      r.fail("unsupported " + std::string(k) + " '" + act + "' (supported: gelu_pytorch_tanh)");
    break;
  }
  if (!r.raw().contains("sliding_window"))
    s.window = d.slidingWindow;
  else
    s.window = r.optInt("sliding_window").value_or(0);
  if (r.has("layer_types")) {
    const auto& lt = r.raw()["layer_types"];
    if (!lt.is_array() || lt.size() != size_t(s.nLayer))
      r.fail("'layer_types' is not a list of num_hidden_layers entries");
    s.windowed.assign(lt.size(), 0);
    for (size_t l = 0; l < lt.size(); ++l) {
      const std::string t = lt[l].is_string() ? lt[l].get<std::string>() : "";
      if (t != "sliding_attention" && t != "full_attention")
        r.fail("unsupported layer_types entry '" + lt[l].dump() +
               "' (supported: sliding_attention, full_attention)");
      s.windowed[l] = t == "sliding_attention" ? 1 : 0;
    }
  } else if (auto p = r.optInt("sliding_window_pattern")) {
    if (*p < 1) r.fail("'sliding_window_pattern' must be positive");
    if (s.nLayer >= 1 && s.nLayer <= 4096) {
      s.windowed.assign(size_t(s.nLayer), 0);
      for (int l = 0; l < s.nLayer; ++l) s.windowed[size_t(l)] = (l + 1) % *p != 0 ? 1 : 0;
    }
  }
  const double scalar = optOrDefault(r, "query_pre_attn_scalar", d.queryPreAttnScalar);
  if (!(scalar > 0)) r.fail("'query_pre_attn_scalar' must be positive");
  gemmaQueryScale(s, scalar);
  gemmaSoftcaps(s, optOrDefault(r, "attn_logit_softcapping", d.attnSoftcap),
                optOrDefault(r, "final_logit_softcapping", d.finalSoftcap),
                [&](const std::string& m) { r.fail(m); });
}

const ArchDesc& gemma2() {
  static const ArchDesc a{
      .name = "gemma2",
      .hfClasses = {"Gemma2ForCausalLM"},
      .tensors = gemmaTensors(false),
      .act = Activation::GeGlu,
      .ropeNeox = true,
      .postNorms = true,
      .embdScale = true,
      .windowLayers = WindowLayers::Even,
      .hfTiedByDefault = true,
      .ggufExtra = [](const GgufSpecReader& r, ModelSpec& s) { readGemmaGguf(r, s, 46); },
      .hfExtra =
          [](const ConfigReader& r, ModelSpec& s) {
            readGemmaHfConfig(r, s, {.attnSoftcap = 50, .finalSoftcap = 30});
          },
  };
  return a;
}

}  // namespace ll::rt::arch
