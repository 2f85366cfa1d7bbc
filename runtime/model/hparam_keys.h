// GGUF hyperparameter key suffixes shared by every family (full key: "<arch>." + suffix).
#pragma once

namespace ll::rt {

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

}  // namespace ll::rt
