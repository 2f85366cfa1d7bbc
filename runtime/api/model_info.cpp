// What `layerlens-cli info` reports about a loaded model, as JSON: shared by the CLI and the
// remote server (which answers `info --server` with it), so both print the same document.
#include "runtime/api/model_info.h"

#include "runtime/formats/gguf.h"
#include "runtime/tokenizer/chat_family.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt {
namespace {

nlohmann::ordered_json specJson(const ModelSpec& s) {
  nlohmann::ordered_json j;
  j["architecture"] = s.arch;
  j["name"] = s.name;
  j["n_layer"] = s.nLayer;
  j["n_embd"] = s.nEmbd;
  j["n_head"] = s.nHead;
  j["n_head_kv"] = s.nHeadKv;
  j["head_dim"] = s.headDim;
  j["n_ff"] = s.nFf;
  j["n_ctx"] = s.nCtx;
  j["n_vocab"] = s.nVocab;
  j["n_expert"] = s.nExpert;
  j["n_expert_used"] = s.nExpertUsed;
  j["n_ff_expert"] = s.nFfExpert;
  j["n_ff_shexp"] = s.nFfShexp;
  j["expert_weights_norm"] = s.expertWeightsNorm;
  j["norm"] = s.norm == NormKind::RmsNorm ? "rms_norm" : "layer_norm";
  j["norm_eps"] = s.normEps;
  j["activation"] = s.act == Activation::SwiGlu      ? "swiglu"
                    : s.act == Activation::GeGlu     ? "geglu_tanh"
                    : s.act == Activation::SwiGluOai ? "swiglu_oai_clamped"
                                                     : "gelu_tanh";
  j["qkv_bias"] = s.qkvBias;
  j["qk_norm"] = s.qkNorm == QkNorm::None ? "none" : s.qkNorm == QkNorm::Full ? "full" : "per_head";
  j["post_norms"] = s.postNorms;
  j["embedding_scale"] = s.embdScale;
  j["attn_scale"] = s.layerAttnScale();
  j["attn_logit_softcap"] = s.attnSoftcap;
  j["final_logit_softcap"] = s.finalSoftcap;
  j["attention_sinks"] = s.attnSinks;
  j["sliding_window"] = s.window;
  {
    std::vector<int> swa;
    for (int l = 0; l < s.nLayer; ++l)
      if (s.layerWindow(l) > 0) swa.push_back(l);
    j["swa_layers"] = swa;
  }
  j["learned_pos"] = s.learnedPos;
  j["tied_output"] = s.tiedOutput;
  j["has_rope"] = s.hasRope;
  if (s.hasRope) {
    nlohmann::ordered_json r;
    r["n_rot"] = s.rope.nRot;
    r["base"] = s.rope.base;
    r["freq_scale"] = s.rope.freqScale;
    r["neox"] = s.rope.neox;
    if (s.rope.llama3Factor > 0) {
      r["llama3_factor"] = s.rope.llama3Factor;
      r["llama3_low_freq_factor"] = s.rope.llama3LowFreqFactor;
      r["llama3_high_freq_factor"] = s.rope.llama3HighFreqFactor;
      r["llama3_original_context"] = s.rope.llama3OrigCtx;
    }
    if (!s.rope.freqFactors.empty()) r["freq_factors"] = s.rope.freqFactors.size();
    if (s.rope.attnFactor != 1.0f) r["attn_factor"] = s.rope.attnFactor;
    if (s.rope.yarnExtFactor != 0.0f) {
      r["yarn_ext_factor"] = s.rope.yarnExtFactor;
      r["yarn_original_context"] = s.rope.yarnOrigCtx;
      r["yarn_beta_fast"] = s.rope.yarnBetaFast;
      r["yarn_beta_slow"] = s.rope.yarnBetaSlow;
    }
    if (s.localRope) r["local_layers_base"] = s.ropeLocal.base;
    j["rope"] = r;
  }
  return j;
}

}  // namespace

nlohmann::ordered_json modelInfoJson(const Model& model, const std::string& displayPath) {
  nlohmann::ordered_json j;
  j["path"] = displayPath;
  j["format"] = model.format;
  j["loadable"] = true;
  j["file_size"] = model.fileBytes;
  j["architecture"] = model.spec.arch;
  j["spec"] = specJson(model.spec);
  j["tensor_count"] = model.weights.all().size();
  j["tensor_types"] = model.spec.tensorTypeCounts;
  uint64_t weightBytes = 0, params = 0;
  for (const auto& [name, t] : model.weights.all()) {
    weightBytes += t.nbytes;
    params += uint64_t(t.rows()) * uint64_t(t.cols());
  }
  j["parameters"] = params;
  j["weight_bytes"] = weightBytes;
  if (model.format == "gguf") {
    auto f = GgufFile::open(model.path);
    j["gguf_version"] = f->version();
    j["gguf_metadata_keys"] = f->metadata().size();
  }
  if (model.tokenizer) {
    const auto& v = model.tokenizer->vocab();
    nlohmann::ordered_json t;
    t["model"] = v.model;
    t["pre"] = v.pre;
    t["vocab_size"] = model.tokenizer->vocabSize();
    t["bos"] = model.tokenizer->bos();
    t["eos"] = model.tokenizer->eos();
    t["add_bos"] = model.tokenizer->addBosDefault();
    j["tokenizer"] = t;
  }
  j["chat_template"] = !model.chatTemplate.empty();
  // The family a client writes its prompts in (a remote GUI's chat template); "" when none.
  j["chat_format"] = chatTemplateFamily(model.chatTemplate);
  return j;
}

}  // namespace ll::rt
