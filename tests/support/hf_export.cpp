// GGUF fixture -> HF folder, written from what the HF classes and convert_hf_to_gguf.py do (not
// from the loader's tables, so a wrong table entry shows up as a mismatch).
#include "hf_export.h"

#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "runtime/formats/gguf.h"

namespace lltest {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct HfTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // F32
};

void writeSafetensors(const fs::path& p, const std::vector<HfTensor>& ts) {
  json h = json::object();
  uint64_t off = 0;
  for (const auto& t : ts) {
    h[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  std::string hs = h.dump();
  while (hs.size() % 8) hs.push_back(' ');
  std::ofstream out(p, std::ios::binary);
  const uint64_t n = hs.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(hs.data(), std::streamsize(hs.size()));
  for (const auto& t : ts)
    out.write(reinterpret_cast<const char*>(t.bytes.data()), std::streamsize(t.bytes.size()));
}

// GGUF interleaved rows -> HF rotate-half rows (what convert_hf_to_gguf's permute undoes).
std::vector<uint8_t> unpermute(const uint8_t* src, int64_t rows, size_t rowBytes, int heads) {
  const int64_t hd = rows / heads, half = hd / 2;
  std::vector<uint8_t> out(size_t(rows) * rowBytes);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(out.data() + size_t(h * hd + j * half + i) * rowBytes,
                    src + size_t(h * hd + 2 * i + j) * rowBytes, rowBytes);
  return out;
}

std::vector<float> floats(const ll::rt::GgufTensorInfo& t) {
  std::vector<float> v(t.nbytes / 4);
  std::memcpy(v.data(), t.data, v.size() * 4);
  return v;
}

}  // namespace

HfExport exportHfFolder(const fs::path& ggufPath, const fs::path& dir, const std::string& cls,
                        const fs::path& tokenizerJson) {
  auto g = ll::rt::GgufFile::open(ggufPath);
  const std::string arch = *g->getString("general.architecture");
  auto key = [&](const std::string& k) { return arch + "." + k; };
  auto gi = [&](const std::string& k) {
    auto v = g->getInt(key(k));
    if (!v) throw std::runtime_error(ggufPath.string() + " lacks " + key(k));
    return *v;
  };
  const bool gemma = cls == "Gemma2ForCausalLM" || cls == "Gemma3ForCausalLM";
  const bool tied = g->tensor("output.weight") == nullptr;
  const int nHead = int(gi("attention.head_count")), nHeadKv = int(gi("attention.head_count_kv"));
  const int64_t nEmbd = gi("embedding_length"), nLayer = gi("block_count");
  const int64_t headDim = g->getInt(key("attention.key_length")).value_or(nEmbd / nHead);
  json cfg = {{"architectures", {cls}},
              {"hidden_size", nEmbd},
              {"num_hidden_layers", nLayer},
              {"num_attention_heads", nHead},
              {"num_key_value_heads", nHeadKv},
              {"max_position_embeddings", gi("context_length")},
              {"vocab_size", g->getStringArray("tokenizer.ggml.tokens").size()},
              {"rms_norm_eps", g->getFloat(key("attention.layer_norm_rms_epsilon")).value_or(1e-5)},
              {"rope_theta", g->getFloat(key("rope.freq_base")).value_or(10000.0)}};
  // Gemma ties by default: leave the key out there when tied, to exercise that default.
  if (!(gemma && tied)) cfg["tie_word_embeddings"] = tied;
  if (g->getInt(key("attention.key_length"))) cfg["head_dim"] = headDim;
  if (g->getString(key("rope.scaling.type")).value_or("none") == "linear")
    cfg["rope_scaling"] = {{"rope_type", "linear"},
                           {"factor", *g->getFloat(key("rope.scaling.factor"))}};
  if (cls == "MixtralForCausalLM") {
    cfg["num_local_experts"] = gi("expert_count");
    cfg["num_experts_per_tok"] = gi("expert_used_count");
    cfg["intermediate_size"] = gi("feed_forward_length");
  } else if (cls == "Qwen2MoeForCausalLM") {
    cfg["num_experts"] = gi("expert_count");
    cfg["num_experts_per_tok"] = gi("expert_used_count");
    cfg["moe_intermediate_size"] = gi("expert_feed_forward_length");
    cfg["shared_expert_intermediate_size"] = gi("expert_shared_feed_forward_length");
    cfg["intermediate_size"] = gi("feed_forward_length");
    cfg["norm_topk_prob"] = false;
  } else if (cls == "OlmoeForCausalLM") {
    cfg["num_experts"] = gi("expert_count");
    cfg["num_experts_per_tok"] = gi("expert_used_count");
    cfg["intermediate_size"] = gi("feed_forward_length");
    cfg["norm_topk_prob"] = false;
  } else if (cls == "Qwen3MoeForCausalLM") {
    cfg["num_experts"] = gi("expert_count");
    cfg["num_experts_per_tok"] = gi("expert_used_count");
    cfg["moe_intermediate_size"] = gi("expert_feed_forward_length");
    cfg["norm_topk_prob"] = true;
    cfg["decoder_sparse_step"] = 1;
    cfg["mlp_only_layers"] = json::array();
  } else if (gemma) {
    cfg["intermediate_size"] = gi("feed_forward_length");
    cfg["hidden_activation"] = "gelu_pytorch_tanh";
    cfg["sliding_window"] = gi("attention.sliding_window");
    // llama.cpp's rule for the GGUF (27B: n_embd / n_head), else head_dim.
    const bool big = (cls == "Gemma2ForCausalLM" && nLayer == 46) ||
                     (cls == "Gemma3ForCausalLM" && nLayer == 62);
    cfg["query_pre_attn_scalar"] = big ? nEmbd / nHead : headDim;
    auto cap = [&](const char* k) -> json {
      if (auto v = g->getFloat(key(k))) return *v;
      return nullptr;
    };
    cfg["attn_logit_softcapping"] = cap("attn_logit_softcapping");
    cfg["final_logit_softcapping"] = cap("final_logit_softcapping");
    if (cls == "Gemma3ForCausalLM") {
      // transformers >= 4.53 writes layer_types (5 local : 1 global), and the local RoPE base.
      json types = json::array();
      for (int64_t l = 0; l < nLayer; ++l)
        types.push_back((l + 1) % 6 ? "sliding_attention" : "full_attention");
      cfg["layer_types"] = types;
      cfg["sliding_window_pattern"] = 6;
      cfg["rope_local_base_freq"] = 10000.0;
    }
  } else if (cls == "Phi3ForCausalLM") {
    cfg["intermediate_size"] = gi("feed_forward_length");
    cfg["hidden_act"] = "silu";
    cfg["sliding_window"] = g->getInt(key("attention.sliding_window")).value_or(0);
    const int64_t nRot = g->getInt(key("rope.dimension_count")).value_or(headDim);
    if (nRot != headDim) cfg["partial_rotary_factor"] = double(nRot) / double(headDim);
    const auto* lng = g->tensor("rope_factors_long.weight");
    const auto* sht = g->tensor("rope_factors_short.weight");
    if (lng && sht) {
      cfg["original_max_position_embeddings"] = gi("rope.scaling.original_context_length");
      json rs = {{"type", "longrope"}};
      for (auto [k, t] : {std::pair{"long_factor", lng}, std::pair{"short_factor", sht}}) {
        json list = json::array();
        for (float x : floats(*t)) list.push_back(double(x));
        rs[k] = list;
      }
      cfg["rope_scaling"] = rs;
    }
  } else {
    cfg["intermediate_size"] = gi("feed_forward_length");
  }
  std::ofstream(dir / "config.json") << cfg.dump(2);
  fs::copy_file(tokenizerJson, dir / "tokenizer.json", fs::copy_options::overwrite_existing);

  const std::map<std::string, std::string> top = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"}};
  std::map<std::string, std::string> layer = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"ffn_gate_inp.weight", "mlp.gate.weight"},
      {"ffn_gate_shexp.weight", "mlp.shared_expert.gate_proj.weight"},
      {"ffn_up_shexp.weight", "mlp.shared_expert.up_proj.weight"},
      {"ffn_down_shexp.weight", "mlp.shared_expert.down_proj.weight"},
      {"ffn_gate_inp_shexp.weight", "mlp.shared_expert_gate.weight"}};
  std::map<std::string, std::string> experts = {{"ffn_gate_exps.weight", "gate_proj.weight"},
                                                {"ffn_up_exps.weight", "up_proj.weight"},
                                                {"ffn_down_exps.weight", "down_proj.weight"}};
  std::string expertPrefix = "mlp.experts.";
  if (cls == "MixtralForCausalLM") {
    layer["ffn_gate_inp.weight"] = "block_sparse_moe.gate.weight";
    experts = {{"ffn_gate_exps.weight", "w1.weight"},
               {"ffn_up_exps.weight", "w3.weight"},
               {"ffn_down_exps.weight", "w2.weight"}};
    expertPrefix = "block_sparse_moe.experts.";
  } else if (gemma) {
    // Gemma's four norms per block.
    layer["post_attention_norm.weight"] = "post_attention_layernorm.weight";
    layer["ffn_norm.weight"] = "pre_feedforward_layernorm.weight";
    layer["post_ffw_norm.weight"] = "post_feedforward_layernorm.weight";
  } else if (cls == "Phi3ForCausalLM") {
    layer["attn_qkv.weight"] = "self_attn.qkv_proj.weight";
    layer["ffn_up.weight"] = "mlp.gate_up_proj.weight";  // rows [gate | up] in both
  }
  HfExport ex;
  std::vector<HfTensor> out;
  for (const auto& t : g->tensors()) {
    if (t.type != ll::kern::QType::F32) throw std::runtime_error("fixture is not F32: " + t.name);
    if (t.name == "rope_factors_long.weight" || t.name == "rope_factors_short.weight") {
      ex.dropped.insert(t.name);
      continue;
    }
    std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
    std::vector<uint8_t> bytes(t.data, t.data + t.nbytes);
    // Gemma RMSNorm: HF multiplies by (1 + w), GGUF stores the sum.
    if (gemma && t.name.ends_with("norm.weight")) {
      std::vector<float> v = floats(t);
      for (float& x : v) x -= 1.0f;
      std::memcpy(bytes.data(), v.data(), bytes.size());
      ex.shifted.insert(t.name);
    }
    if (auto it = top.find(t.name); it != top.end()) {
      out.push_back({it->second, shape, bytes});
      continue;
    }
    const size_t dot = t.name.find('.', 4);
    const std::string l = t.name.substr(4, dot - 4), rest = t.name.substr(dot + 1);
    const std::string pre = "model.layers." + l + ".";
    if (auto it = experts.find(rest); it != experts.end()) {
      const size_t per = t.nbytes / size_t(t.ne[2]);
      for (int64_t e = 0; e < t.ne[2]; ++e)
        out.push_back({pre + expertPrefix + std::to_string(e) + "." + it->second,
                       {t.ne[1], t.ne[0]},
                       std::vector<uint8_t>(t.data + e * per, t.data + (e + 1) * per)});
      continue;
    }
    const std::string hfName = layer.at(rest);
    if (arch == "llama" && (rest == "attn_q.weight" || rest == "attn_k.weight"))
      bytes = unpermute(t.data, t.ne[1], size_t(t.ne[0]) * 4,
                        rest == "attn_q.weight" ? nHead : nHeadKv);
    if (rest == "ffn_gate_inp_shexp.weight") shape = {1, t.ne[0]};
    out.push_back({pre + hfName, shape, bytes});
  }
  writeSafetensors(dir / "model.safetensors", out);
  return ex;
}

}  // namespace lltest
