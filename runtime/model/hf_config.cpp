// config.json fields per HF model class and the HF -> GGUF tensor name table.
#include "runtime/model/hf_config.h"

#include <cctype>
#include <climits>
#include <cmath>
#include <map>

#include "runtime/formats/mapped_file.h"
#include "runtime/model/arch_table.h"

namespace ll::rt {

namespace {

using json = nlohmann::json;

class ConfigReader {
 public:
  ConfigReader(const json& j, const std::filesystem::path& p) : m_j(j), m_p(p) {}
  [[noreturn]] void fail(const std::string& what) const { throw FormatError(m_p, what); }
  bool has(const char* k) const { return m_j.contains(k) && !m_j[k].is_null(); }
  std::optional<int> optInt(const char* k) const {
    if (!has(k)) return std::nullopt;
    const json& v = m_j[k];
    if (!v.is_number_integer()) fail(std::string("'") + k + "' is not an integer");
    const int64_t i = v.get<int64_t>();
    if (i < 0 || i > INT_MAX)
      fail(std::string("'") + k + "' is out of range: " + std::to_string(i));
    return int(i);
  }
  int reqInt(const char* k) const {
    auto v = optInt(k);
    if (!v) fail(std::string("config.json lacks '") + k + "'");
    return *v;
  }
  std::optional<double> optFloat(const char* k) const {
    if (!has(k)) return std::nullopt;
    if (!m_j[k].is_number()) fail(std::string("'") + k + "' is not a number");
    const double d = m_j[k].get<double>();
    if (!std::isfinite(d)) fail(std::string("'") + k + "' is not finite");
    return d;
  }
  std::optional<bool> optBool(const char* k) const {
    if (!has(k)) return std::nullopt;
    if (!m_j[k].is_boolean()) fail(std::string("'") + k + "' is not a boolean");
    return m_j[k].get<bool>();
  }
  const json& raw() const { return m_j; }

 private:
  const json& m_j;
  const std::filesystem::path& m_p;
};

struct HfClass {
  const char* cls;
  const char* arch;
};
constexpr HfClass kClasses[] = {
    {"LlamaForCausalLM", "llama"},   {"MistralForCausalLM", "llama"},
    {"MixtralForCausalLM", "llama"}, {"Qwen2ForCausalLM", "qwen2"},
    {"GPT2LMHeadModel", "gpt2"},     {"Qwen2MoeForCausalLM", "qwen2moe"},
    {"OlmoeForCausalLM", "olmoe"},
};

void readRopeScaling(const ConfigReader& r, ModelSpec& s) {
  if (!r.has("rope_scaling")) return;
  const json& rs = r.raw()["rope_scaling"];
  if (!rs.is_object()) r.fail("'rope_scaling' is not an object");
  std::string type;
  for (const char* k : {"rope_type", "type"})
    if (rs.contains(k) && rs[k].is_string()) type = rs[k].get<std::string>();
  auto num = [&](const char* k, double def) {
    if (!rs.contains(k) || rs[k].is_null()) return def;
    if (!rs[k].is_number() || !std::isfinite(rs[k].get<double>()))
      r.fail(std::string("rope_scaling.") + k + " is not a number");
    return rs[k].get<double>();
  };
  if (type == "linear") {
    const double f = num("factor", 1.0);
    if (!(f > 0)) r.fail("rope_scaling.factor must be positive");
    s.rope.freqScale = float(1.0 / f);
  } else if (type == "llama3") {
    s.rope.llama3Factor = float(num("factor", 8.0));
    s.rope.llama3LowFreqFactor = float(num("low_freq_factor", 1.0));
    s.rope.llama3HighFreqFactor = float(num("high_freq_factor", 4.0));
    const double orig = num("original_max_position_embeddings", 8192);
    if (!(orig >= 1 && orig <= INT_MAX))
      r.fail("rope_scaling.original_max_position_embeddings out of range");
    s.rope.llama3OrigCtx = int(orig);
  } else if (!type.empty() && type != "default") {
    r.fail("unsupported rope_scaling type '" + type + "' (supported: linear, llama3)");
  }
}

}  // namespace

ModelSpec specFromHfConfig(const json& config, const std::filesystem::path& path) {
  const ConfigReader r(config, path);
  if (!config.is_object()) r.fail("config.json is not a JSON object");
  std::string cls;
  if (config.contains("architectures") && config["architectures"].is_array() &&
      !config["architectures"].empty() && config["architectures"][0].is_string())
    cls = config["architectures"][0].get<std::string>();
  const HfClass* hc = nullptr;
  for (const auto& c : kClasses)
    if (cls == c.cls) hc = &c;
  if (!hc) {
    std::string list;
    for (const auto& c : kClasses) list += (list.empty() ? "" : ", ") + std::string(c.cls);
    r.fail("unsupported model class '" + cls + "' (supported: " + list + ")");
  }
  ModelSpec s;
  applyArchLayout(*findArch(hc->arch), s);
  s.name = config.contains("_name_or_path") && config["_name_or_path"].is_string()
               ? config["_name_or_path"].get<std::string>()
               : path.parent_path().filename().string();
  if (s.archKind == Arch::Gpt2) {
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
    return s;
  }
  s.nEmbd = r.reqInt("hidden_size");
  s.nLayer = r.reqInt("num_hidden_layers");
  s.nHead = r.reqInt("num_attention_heads");
  s.nHeadKv = r.optInt("num_key_value_heads").value_or(s.nHead);
  if (auto hd = r.optInt("head_dim")) {
    s.headDim = *hd;
  } else {
    if (s.nHead == 0 || s.nEmbd % s.nHead)
      r.fail("hidden_size is not a multiple of num_attention_heads");
    s.headDim = s.nEmbd / s.nHead;
  }
  s.nCtx = r.optInt("max_position_embeddings").value_or(2048);
  s.nVocab = r.reqInt("vocab_size");
  s.normEps = float(r.optFloat("rms_norm_eps").value_or(1e-6));
  s.rope.base = float(r.optFloat("rope_theta").value_or(10000.0));
  s.rope.nRot = s.headDim;
  readRopeScaling(r, s);
  if (cls == "MixtralForCausalLM") {
    s.nExpert = r.reqInt("num_local_experts");
    s.nExpertUsed = r.reqInt("num_experts_per_tok");
    s.nFfExpert = r.reqInt("intermediate_size");
    s.expertWeightsNorm = true;
  } else if (s.archKind == Arch::Qwen2Moe) {
    s.nExpert = r.reqInt("num_experts");
    s.nExpertUsed = r.reqInt("num_experts_per_tok");
    s.nFfExpert = r.reqInt("moe_intermediate_size");
    s.nFfShexp = r.optInt("shared_expert_intermediate_size").value_or(0);
    s.expertWeightsNorm = r.optBool("norm_topk_prob").value_or(false);
    if (r.optInt("decoder_sparse_step").value_or(1) != 1 ||
        (r.has("mlp_only_layers") && !r.raw()["mlp_only_layers"].empty()))
      r.fail("qwen2moe with dense layers (decoder_sparse_step / mlp_only_layers) is not supported");
  } else if (s.archKind == Arch::Olmoe) {
    s.nExpert = r.reqInt("num_experts");
    s.nExpertUsed = r.reqInt("num_experts_per_tok");
    s.nFfExpert = r.reqInt("intermediate_size");
    s.expertWeightsNorm = r.optBool("norm_topk_prob").value_or(false);
  } else {
    s.nFf = r.reqInt("intermediate_size");
  }
  // Llama-class checkpoints with q/k/v biases (attention_bias) need them applied, like qwen2.
  if (r.optBool("attention_bias").value_or(false)) s.qkvBias = true;
  if (r.optBool("mlp_bias").value_or(false)) r.fail("mlp_bias is not supported");
  return s;
}

std::optional<HfMapping> mapHfTensorName(const ModelSpec& s, const std::string& hfName) {
  const bool gpt2 = s.archKind == Arch::Gpt2;
  std::string n = hfName;
  if (gpt2 && n.rfind("transformer.", 0) == 0) n = n.substr(12);
  if (!gpt2 && n.rfind("model.", 0) == 0) n = n.substr(6);

  static const std::map<std::string, std::string> kTopLlama = {
      {"embed_tokens.weight", "token_embd.weight"},
      {"norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"}};
  static const std::map<std::string, std::string> kTopGpt2 = {
      {"wte.weight", "token_embd.weight"},
      {"wpe.weight", "position_embd.weight"},
      {"ln_f.weight", "output_norm.weight"},
      {"ln_f.bias", "output_norm.bias"},
      {"lm_head.weight", "output.weight"}};
  const auto& top = gpt2 ? kTopGpt2 : kTopLlama;
  if (auto it = top.find(n); it != top.end()) return HfMapping{it->second};

  const std::string layerPrefix = gpt2 ? "h." : "layers.";
  if (n.rfind(layerPrefix, 0) != 0) return std::nullopt;
  size_t p = layerPrefix.size(), q = p;
  while (q < n.size() && q - p < 6 && std::isdigit(static_cast<unsigned char>(n[q]))) ++q;
  if (q == p || q >= n.size() || n[q] != '.') return std::nullopt;
  const int layer = std::stoi(n.substr(p, q - p));
  const std::string rest = n.substr(q + 1);
  const std::string blk = "blk." + std::to_string(layer) + ".";

  if (gpt2) {
    static const std::map<std::string, std::pair<std::string, HfTransform>> kGpt2 = {
        {"ln_1.weight", {"attn_norm.weight", HfTransform::None}},
        {"ln_1.bias", {"attn_norm.bias", HfTransform::None}},
        {"attn.c_attn.weight", {"attn_qkv.weight", HfTransform::Transpose}},
        {"attn.c_attn.bias", {"attn_qkv.bias", HfTransform::None}},
        {"attn.c_proj.weight", {"attn_output.weight", HfTransform::Transpose}},
        {"attn.c_proj.bias", {"attn_output.bias", HfTransform::None}},
        {"ln_2.weight", {"ffn_norm.weight", HfTransform::None}},
        {"ln_2.bias", {"ffn_norm.bias", HfTransform::None}},
        {"mlp.c_fc.weight", {"ffn_up.weight", HfTransform::Transpose}},
        {"mlp.c_fc.bias", {"ffn_up.bias", HfTransform::None}},
        {"mlp.c_proj.weight", {"ffn_down.weight", HfTransform::Transpose}},
        {"mlp.c_proj.bias", {"ffn_down.bias", HfTransform::None}},
    };
    if (auto it = kGpt2.find(rest); it != kGpt2.end())
      return HfMapping{blk + it->second.first, it->second.second};
    return std::nullopt;  // attn.bias / attn.masked_bias are causal-mask buffers
  }

  const bool permute = s.archKind == Arch::Llama;  // GGUF llama keeps interleaved RoPE rows
  static const std::map<std::string, std::string> kLayer = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"block_sparse_moe.gate.weight", "ffn_gate_inp.weight"},
      {"mlp.gate.weight", "ffn_gate_inp.weight"},
      {"mlp.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight"},
      {"mlp.shared_expert.up_proj.weight", "ffn_up_shexp.weight"},
      {"mlp.shared_expert.down_proj.weight", "ffn_down_shexp.weight"},
  };
  if (rest == "mlp.shared_expert_gate.weight")
    return HfMapping{blk + "ffn_gate_inp_shexp.weight", HfTransform::Flatten};
  if (auto it = kLayer.find(rest); it != kLayer.end()) {
    HfTransform t = HfTransform::None;
    if (permute && (rest == "self_attn.q_proj.weight" || rest == "self_attn.q_proj.bias"))
      t = HfTransform::PermuteQ;
    if (permute && (rest == "self_attn.k_proj.weight" || rest == "self_attn.k_proj.bias"))
      t = HfTransform::PermuteK;
    return HfMapping{blk + it->second, t};
  }
  // Experts: block_sparse_moe.experts.E.w1/w2/w3 (Mixtral), mlp.experts.E.{gate,up,down}_proj.
  for (const std::string pre : {"block_sparse_moe.experts.", "mlp.experts."}) {
    if (rest.rfind(pre, 0) != 0) continue;
    size_t a = pre.size(), b = a;
    while (b < rest.size() && b - a < 6 && std::isdigit(static_cast<unsigned char>(rest[b]))) ++b;
    if (b == a || b >= rest.size() || rest[b] != '.') return std::nullopt;
    const int e = std::stoi(rest.substr(a, b - a));
    const std::string w = rest.substr(b + 1);
    static const std::map<std::string, std::string> kExp = {
        {"w1.weight", "ffn_gate_exps.weight"},    {"w3.weight", "ffn_up_exps.weight"},
        {"w2.weight", "ffn_down_exps.weight"},    {"gate_proj.weight", "ffn_gate_exps.weight"},
        {"up_proj.weight", "ffn_up_exps.weight"}, {"down_proj.weight", "ffn_down_exps.weight"}};
    if (auto it = kExp.find(w); it != kExp.end())
      return HfMapping{blk + it->second, HfTransform::None, e};
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace ll::rt
