// The supported architectures as data: GGUF hyperparameter keys and the layout switches the engine
// reads. Adding an architecture means adding a row here, not code in the engine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/model/model_spec.h"

namespace ll::rt {

// How top-k expert weights are normalised (llama/Mixtral always; others follow a GGUF key).
enum class ExpertNormRule { Never, Always, FromKey };

struct ArchInfo {
  std::string_view name;  // general.architecture
  Arch kind;
  NormKind norm;
  Activation act;
  bool qkvBias;     // separate attn_q/k/v biases
  bool fusedQkv;    // attn_qkv.weight/.bias (gpt2)
  bool qkNorm;      // attn_q_norm / attn_k_norm
  bool learnedPos;  // position_embd.weight
  bool hasRope;
  bool ropeNeox;      // NEOX halves instead of interleaved pairs
  bool linearBiases;  // attn_output.bias, ffn_up.bias, ffn_down.bias (gpt2)
  bool allowMoe;      // may have <arch>.expert_count > 0
  bool moeOnly;       // every layer is MoE when expert_count > 0 (no dense nFf)
  bool sharedExpert;  // qwen2moe ffn_*_shexp
  ExpertNormRule expertNorm;
};

// GGUF hyperparameter key suffixes (full key: "<arch>." + suffix).
struct HparamKeys {
  static constexpr const char* kLayers = "block_count";
  static constexpr const char* kEmbd = "embedding_length";
  static constexpr const char* kHeads = "attention.head_count";
  static constexpr const char* kHeadsKv = "attention.head_count_kv";
  static constexpr const char* kKeyLength = "attention.key_length";
  static constexpr const char* kFf = "feed_forward_length";
  static constexpr const char* kFfExpert = "expert_feed_forward_length";
  static constexpr const char* kFfShexp = "expert_shared_feed_forward_length";
  static constexpr const char* kCtx = "context_length";
  static constexpr const char* kVocab = "vocab_size";
  static constexpr const char* kExperts = "expert_count";
  static constexpr const char* kExpertsUsed = "expert_used_count";
  static constexpr const char* kExpertNorm = "expert_weights_norm";
  static constexpr const char* kRmsEps = "attention.layer_norm_rms_epsilon";
  static constexpr const char* kLnEps = "attention.layer_norm_epsilon";
  static constexpr const char* kRopeDims = "rope.dimension_count";
  static constexpr const char* kRopeBase = "rope.freq_base";
  static constexpr const char* kRopeScaleType = "rope.scaling.type";
  static constexpr const char* kRopeScaleFactor = "rope.scaling.factor";
  static constexpr const char* kRopeOrigCtx = "rope.scaling.original_context_length";
  static constexpr const char* kRopeLowFreq = "rope.scaling.low_freq_factor";
  static constexpr const char* kRopeHighFreq = "rope.scaling.high_freq_factor";
};

const std::vector<ArchInfo>& archTable();
const ArchInfo* findArch(std::string_view name);
const ArchInfo& archInfo(Arch kind);
// "llama, qwen2, gpt2, qwen2moe, olmoe"
std::string supportedArchitecturesText();
// Copies the table's layout switches into spec (arch, archKind, norm, act, qkvBias, ...).
void applyArchLayout(const ArchInfo& a, ModelSpec& spec);

}  // namespace ll::rt
