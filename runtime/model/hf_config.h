// Hugging Face config.json -> ModelSpec, and HF tensor names -> GGUF names with the layout change
// each needs (llama Q/K row permutation, gpt2 Conv1D transpose, per-expert tensors stacked).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/model/model_spec.h"

namespace ll::rt {

// Reads the spec fields a config.json defines (tensor type counts and tiedOutput are filled by the
// loader). Throws FormatError naming configPath.
ModelSpec specFromHfConfig(const nlohmann::json& config, const std::filesystem::path& configPath);

enum class HfTransform {
  None,       // torch [out, in] row-major is GGUF ne [in, out] byte for byte
  PermuteQ,   // llama q_proj: rotate-half rows -> interleaved pairs, per query head
  PermuteK,   // llama k_proj: same per kv head
  Transpose,  // gpt2 Conv1D [in, out] -> GGUF rows of in
  Flatten,    // [1, n] -> [n] (qwen2moe shared_expert_gate)
};

struct HfMapping {
  std::string gguf;  // GGUF tensor name
  HfTransform transform = HfTransform::None;
  int expert = -1;  // >= 0: one expert's slice of a stacked 3-D GGUF tensor
};

// nullopt for tensors the engine does not use (e.g. gpt2's attn.bias causal-mask buffer).
std::optional<HfMapping> mapHfTensorName(const ModelSpec& spec, const std::string& hfName);

}  // namespace ll::rt
