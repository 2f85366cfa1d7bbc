// HF loading of the architectures without an HF fixture in shared/models (Mixtral-style llama,
// qwen2, qwen2moe, olmoe, qwen3, qwen3moe, gemma2, gemma3, phi3): the test exports each GGUF twin
// to an HF folder with its own inverse mapping (tests/support/hf_export.h: HF names, rotate-half
// Q/K rows for llama, one tensor per expert, Gemma norms minus one, phi3's LongRoPE factors as
// config lists), loads the folder and requires the same spec and bit-identical tensors as the GGUF
// (Gemma norms: bit-identical to (w - 1) + 1). tst_parity_hf_export runs both forward.
#include <unistd.h>

#include <cstring>

#include "hf_export.h"
#include "lltest.h"
#include "runtime/model/hf_config.h"
#include "runtime/model/model.h"

namespace fs = std::filesystem;
using namespace ll;

namespace {

const lltest::ScratchDir kScratch("ll_tst_hf_moe_");  // removed at exit
const fs::path& root() {
  return kScratch.path();
}

void compareRope(const kern::RopeParams& t, const kern::RopeParams& s) {
  QCOMPARE(t.nRot, s.nRot);
  QCOMPARE(t.base, s.base);
  QCOMPARE(t.freqScale, s.freqScale);
  QCOMPARE(t.neox, s.neox);
  QCOMPARE(t.llama3Factor, s.llama3Factor);
  QCOMPARE(t.llama3LowFreqFactor, s.llama3LowFreqFactor);
  QCOMPARE(t.llama3HighFreqFactor, s.llama3HighFreqFactor);
  QCOMPARE(t.llama3OrigCtx, s.llama3OrigCtx);
  QVERIFY(t.freqFactors == s.freqFactors);
  QCOMPARE(t.attnFactor, s.attnFactor);
  QCOMPARE(t.yarnExtFactor, s.yarnExtFactor);
  QCOMPARE(t.yarnOrigCtx, s.yarnOrigCtx);
}

void compareWithGguf(const fs::path& gguf, const std::string& cls) {
  const fs::path shared = lltest::sharedDir();
  const fs::path dir = root() / cls;
  fs::create_directories(dir);
  const auto ex =
      lltest::exportHfFolder(gguf, dir, cls, shared / "models/hf/stories260K/tokenizer.json");
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
  QCOMPARE(t.norm, s.norm);
  QCOMPARE(t.normEps, s.normEps);
  QCOMPARE(t.act, s.act);
  QCOMPARE(t.qkvBias, s.qkvBias);
  QCOMPARE(t.qkNorm, s.qkNorm);
  QCOMPARE(t.learnedPos, s.learnedPos);
  QCOMPARE(t.tiedOutput, s.tiedOutput);
  QCOMPARE(t.postNorms, s.postNorms);
  QCOMPARE(t.embdScale, s.embdScale);
  QCOMPARE(t.attnScale, s.attnScale);
  QCOMPARE(t.attnSoftcap, s.attnSoftcap);
  QCOMPARE(t.finalSoftcap, s.finalSoftcap);
  QCOMPARE(t.attnSinks, s.attnSinks);
  QCOMPARE(t.window, s.window);
  QVERIFY(t.windowed == s.windowed);
  QCOMPARE(t.hasRope, s.hasRope);
  compareRope(t.rope, s.rope);
  QCOMPARE(t.localRope, s.localRope);
  compareRope(t.ropeLocal, s.ropeLocal);
  auto types = s.tensorTypeCounts;
  types["F32"] -= int(ex.dropped.size());
  QCOMPARE(t.tensorTypeCounts, types);
  QCOMPARE(b->weights.all().size() + ex.dropped.size(), a->weights.all().size());
  for (const auto& [name, x] : a->weights.all()) {
    if (ex.dropped.count(name)) {
      QVERIFY2(b->weights.find(name) == nullptr, name);
      continue;
    }
    const auto* y = b->weights.find(name);
    QVERIFY2(y != nullptr, name);
    QVERIFY2(y->ne == x.ne && y->type == x.type, name);
    std::vector<uint8_t> want(x.data, x.data + x.nbytes);
    if (ex.shifted.count(name)) {
      std::vector<float> v(x.nbytes / 4);
      std::memcpy(v.data(), x.data, x.nbytes);
      for (float& f : v) f = (f - 1.0f) + 1.0f;
      std::memcpy(want.data(), v.data(), x.nbytes);
    }
    QVERIFY2(y->nbytes == x.nbytes && std::memcmp(y->data, want.data(), x.nbytes) == 0, name);
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
LL_TEST(qwen3) {
  LL_REQUIRE_SHARED();
  // head_dim 32 != hidden_size / num_attention_heads (16).
  compareWithGguf(lltest::sharedDir() / "models/qwen3-tiny.gguf", "Qwen3ForCausalLM");
}
LL_TEST(qwen3moe) {
  LL_REQUIRE_SHARED();
  compareWithGguf(lltest::sharedDir() / "models/qwen3moe-tiny.gguf", "Qwen3MoeForCausalLM");
}
LL_TEST(gemma2) {
  LL_REQUIRE_SHARED();
  // Tied without a tie_word_embeddings key (Gemma's default), soft-caps, windows on even layers.
  compareWithGguf(lltest::sharedDir() / "models/gemma2-tiny.gguf", "Gemma2ForCausalLM");
}
LL_TEST(gemma3) {
  LL_REQUIRE_SHARED();
  // layer_types, local RoPE base, linear rope_scaling on the global layer, untied.
  compareWithGguf(lltest::sharedDir() / "models/gemma3-tiny.gguf", "Gemma3ForCausalLM");
}
LL_TEST(phi3) {
  LL_REQUIRE_SHARED();
  // LongRoPE lists (long chosen: 4096 > 1024, attention factor computed), fused qkv / gate_up.
  compareWithGguf(lltest::sharedDir() / "models/phi3-tiny.gguf", "Phi3ForCausalLM");
}

// config.json fields the fixtures above do not vary: HF class defaults, the window pattern
// without layer_types, rope_local_base_freq, LongRoPE's short factors and attention_factor,
// partial_rotary_factor.
LL_TEST(gemmaConfigDefaults) {
  auto cfg = nlohmann::json::parse(
      R"({"architectures": ["Gemma2ForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
      "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32,
      "vocab_size": 16})");
  auto s = rt::specFromHfConfig(cfg, "config.json");
  // Gemma2Config: window 4096 on even layers, soft-caps 50 / 30, query_pre_attn_scalar 256.
  QCOMPARE(s.window, 4096);
  QVERIFY((s.windowed == std::vector<uint8_t>{1, 0, 1, 0}));
  QCOMPARE(s.attnSoftcap, 50.0f);
  QCOMPARE(s.finalSoftcap, 30.0f);
  QCOMPARE(s.attnScale, 1.0f / 16.0f);
  QCOMPARE(s.embdScale, 8.0f);
  QCOMPARE(s.act, rt::Activation::GeGlu);
  QVERIFY(!s.localRope);
  cfg["attn_logit_softcapping"] = nullptr;  // null: off
  cfg["query_pre_attn_scalar"] = 32;        // = head_dim: the default scale
  cfg["sliding_window"] = 16;
  s = rt::specFromHfConfig(cfg, "config.json");
  QCOMPARE(s.attnSoftcap, 0.0f);
  QCOMPARE(s.finalSoftcap, 30.0f);
  QCOMPARE(s.attnScale, 0.0f);
  QCOMPARE(s.window, 16);

  cfg = nlohmann::json::parse(
      R"({"architectures": ["Gemma3ForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
      "num_hidden_layers": 7, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32,
      "vocab_size": 16, "sliding_window_pattern": 3, "rope_local_base_freq": 20000.0,
      "rope_theta": 1000000.0, "rope_scaling": {"rope_type": "linear", "factor": 8.0}})");
  s = rt::specFromHfConfig(cfg, "config.json");
  QVERIFY((s.windowed == std::vector<uint8_t>{1, 1, 0, 1, 1, 0, 1}));
  QCOMPARE(s.attnSoftcap, 0.0f);
  QCOMPARE(s.finalSoftcap, 0.0f);
  QCOMPARE(s.attnScale, 1.0f / 16.0f);  // Gemma3TextConfig's 256
  QCOMPARE(s.rope.base, 1000000.0f);
  QCOMPARE(s.rope.freqScale, 0.125f);
  QVERIFY(s.localRope);
  QCOMPARE(s.ropeLocal.base, 20000.0f);
  QCOMPARE(s.ropeLocal.freqScale, 1.0f);
  QCOMPARE(s.ropeLocal.nRot, 32);
  QVERIFY(s.ropeLocal.neox);
  cfg.erase("sliding_window_pattern");
  cfg.erase("rope_local_base_freq");
  s = rt::specFromHfConfig(cfg, "config.json");
  QVERIFY((s.windowed == std::vector<uint8_t>{1, 1, 1, 1, 1, 0, 1}));
  QCOMPARE(s.ropeLocal.base, 10000.0f);
}

LL_TEST(phi3ConfigLongRope) {
  auto cfg = nlohmann::json::parse(
      R"({"architectures": ["Phi3ForCausalLM"], "hidden_size": 64, "intermediate_size": 64,
      "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 16,
      "max_position_embeddings": 1024, "original_max_position_embeddings": 1024,
      "partial_rotary_factor": 0.5, "sliding_window": 32,
      "rope_scaling": {"rope_type": "longrope", "long_factor": [4, 5, 6, 7],
                       "short_factor": [1, 1.5, 2, 2.5]}})");
  auto s = rt::specFromHfConfig(cfg, "config.json");
  QCOMPARE(s.headDim, 16);
  QCOMPARE(s.rope.nRot, 8);
  QVERIFY((s.rope.freqFactors == std::vector<float>{1, 1.5f, 2, 2.5f}));  // not past 1024: short
  QCOMPARE(s.rope.attnFactor, 1.0f);
  QCOMPARE(s.window, 32);
  QVERIFY((s.windowed == std::vector<uint8_t>{1}));
  cfg["max_position_embeddings"] = 4096;
  cfg["rope_scaling"]["attention_factor"] = 1.5;
  cfg.erase("original_max_position_embeddings");
  cfg["rope_scaling"]["original_max_position_embeddings"] = 1024;
  s = rt::specFromHfConfig(cfg, "config.json");
  QVERIFY((s.rope.freqFactors == std::vector<float>{4, 5, 6, 7}));
  QCOMPARE(s.rope.attnFactor, 1.5f);
}

LL_TEST_MAIN("tst_hf_moe")
