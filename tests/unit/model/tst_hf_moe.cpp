// HF loading of the architectures without an HF fixture in shared/models (Mixtral-style llama,
// qwen2, qwen2moe, olmoe): the test exports each GGUF twin to an HF folder with its own inverse
// mapping (HF names, rotate-half Q/K rows for llama, one tensor per expert), loads the folder and
// requires the same spec and bit-identical tensors as the GGUF.
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lltest.h"
#include "runtime/formats/gguf.h"
#include "runtime/model/model.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace ll;

namespace {

struct HfTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

void writeSafetensors(const fs::path& p, const std::vector<HfTensor>& ts) {
  json h = json::object();
  uint64_t off = 0;
  for (const auto& t : ts) {
    h[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
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

void exportHf(const fs::path& ggufPath, const fs::path& dir, const std::string& cls) {
  auto g = rt::GgufFile::open(ggufPath);
  const std::string arch = *g->getString("general.architecture");
  auto gi = [&](const std::string& k) { return *g->getInt(arch + "." + k); };
  const int nHead = int(gi("attention.head_count")), nHeadKv = int(gi("attention.head_count_kv"));
  json cfg = {
      {"architectures", {cls}},
      {"hidden_size", gi("embedding_length")},
      {"num_hidden_layers", gi("block_count")},
      {"num_attention_heads", nHead},
      {"num_key_value_heads", nHeadKv},
      {"max_position_embeddings", gi("context_length")},
      {"vocab_size", g->getStringArray("tokenizer.ggml.tokens").size()},
      {"rms_norm_eps", g->getFloat(arch + ".attention.layer_norm_rms_epsilon").value_or(1e-5)},
      {"rope_theta", g->getFloat(arch + ".rope.freq_base").value_or(10000.0)},
      {"tie_word_embeddings", false}};
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
  } else {
    cfg["intermediate_size"] = gi("feed_forward_length");
  }
  std::ofstream(dir / "config.json") << cfg.dump(2);

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
  }
  std::vector<HfTensor> out;
  for (const auto& t : g->tensors()) {
    if (t.type != kern::QType::F32) throw std::runtime_error("fixture is not F32: " + t.name);
    std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
    std::vector<uint8_t> bytes(t.data, t.data + t.nbytes);
    if (auto it = top.find(t.name); it != top.end()) {
      out.push_back({it->second, "F32", shape, bytes});
      continue;
    }
    const size_t dot = t.name.find('.', 4);
    const std::string l = t.name.substr(4, dot - 4), rest = t.name.substr(dot + 1);
    const std::string pre = "model.layers." + l + ".";
    if (auto it = experts.find(rest); it != experts.end()) {
      const size_t per = t.nbytes / size_t(t.ne[2]);
      for (int64_t e = 0; e < t.ne[2]; ++e)
        out.push_back({pre + expertPrefix + std::to_string(e) + "." + it->second,
                       "F32",
                       {t.ne[1], t.ne[0]},
                       std::vector<uint8_t>(t.data + e * per, t.data + (e + 1) * per)});
      continue;
    }
    const std::string hfName = layer.at(rest);
    if (arch == "llama" && (rest == "attn_q.weight" || rest == "attn_k.weight"))
      bytes = unpermute(t.data, t.ne[1], size_t(t.ne[0]) * 4,
                        rest == "attn_q.weight" ? nHead : nHeadKv);
    if (rest == "ffn_gate_inp_shexp.weight") shape = {1, t.ne[0]};
    out.push_back({pre + hfName, "F32", shape, bytes});
  }
  writeSafetensors(dir / "model.safetensors", out);
}

fs::path root() {
  return fs::temp_directory_path() / ("ll_tst_hf_moe_" + std::to_string(::getpid()));
}
// Removes the exported folders when the test binary exits, also after a failed comparison.
const struct Cleanup {
  fs::path path = root();
  ~Cleanup() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
} kCleanup;

void compareWithGguf(const fs::path& gguf, const std::string& cls) {
  const fs::path shared = lltest::sharedDir();
  const fs::path dir = root() / cls;
  fs::create_directories(dir);
  exportHf(gguf, dir, cls);
  fs::copy_file(shared / "models/hf/stories260K/tokenizer.json", dir / "tokenizer.json",
                fs::copy_options::overwrite_existing);
  auto a = rt::loadModel(gguf);
  auto b = rt::loadModel(dir);
  const auto &s = a->spec, &t = b->spec;
  QCOMPARE(t.arch, s.arch);
  QCOMPARE(t.nLayer, s.nLayer);
  QCOMPARE(t.nEmbd, s.nEmbd);
  QCOMPARE(t.nHead, s.nHead);
  QCOMPARE(t.nHeadKv, s.nHeadKv);
  QCOMPARE(t.headDim, s.headDim);
  QCOMPARE(t.nFf, s.nFf);
  QCOMPARE(t.nCtx, s.nCtx);
  QCOMPARE(t.nVocab, s.nVocab);
  QCOMPARE(t.nExpert, s.nExpert);
  QCOMPARE(t.nExpertUsed, s.nExpertUsed);
  QCOMPARE(t.nFfExpert, s.nFfExpert);
  QCOMPARE(t.nFfShexp, s.nFfShexp);
  QCOMPARE(t.expertWeightsNorm, s.expertWeightsNorm);
  QCOMPARE(t.normEps, s.normEps);
  QCOMPARE(t.qkvBias, s.qkvBias);
  QCOMPARE(t.qkNorm, s.qkNorm);
  QCOMPARE(t.tiedOutput, s.tiedOutput);
  QCOMPARE(t.rope.nRot, s.rope.nRot);
  QCOMPARE(t.rope.base, s.rope.base);
  QCOMPARE(t.rope.neox, s.rope.neox);
  QCOMPARE(t.tensorTypeCounts, s.tensorTypeCounts);
  QCOMPARE(b->weights.all().size(), a->weights.all().size());
  for (const auto& [name, x] : a->weights.all()) {
    const auto* y = b->weights.find(name);
    QVERIFY2(y != nullptr, name);
    QVERIFY2(y->ne == x.ne && y->type == x.type, name);
    QVERIFY2(y->nbytes == x.nbytes && std::memcmp(y->data, x.data, x.nbytes) == 0, name);
  }
  fs::remove_all(dir);
}

}  // namespace

LL_TEST(mixtral) {
  LL_REQUIRE_SHARED();
  compareWithGguf(lltest::sharedDir() / "models/llama-moe.gguf", "MixtralForCausalLM");
}
LL_TEST(qwen2) {
  LL_REQUIRE_SHARED();
  compareWithGguf(lltest::sharedDir() / "models/qwen2-tiny.gguf", "Qwen2ForCausalLM");
}
LL_TEST(qwen2moe) {
  LL_REQUIRE_SHARED();
  compareWithGguf(lltest::sharedDir() / "models/qwen2moe-tiny.gguf", "Qwen2MoeForCausalLM");
}
LL_TEST(olmoe) {
  LL_REQUIRE_SHARED();
  compareWithGguf(lltest::sharedDir() / "models/olmoe-tiny.gguf", "OlmoeForCausalLM");
}
LL_TEST(mixtralStories260KMoe4) {
  LL_REQUIRE_SHARED();
  // Real (upcycled) weights, 8 heads / 4 kv heads of dim 8, and no rope.freq_base key.
  compareWithGguf(lltest::sharedDir() / "models/stories260K-moe4.gguf", "MixtralForCausalLM");
}

LL_TEST_MAIN("tst_hf_moe")
