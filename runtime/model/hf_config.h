// Hugging Face config.json -> ModelSpec, and HF tensor names -> GGUF names with the layout change
// each needs, both read from the architecture's description (arch.h).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/model/arch.h"

namespace ll::rt {

// Reads the spec fields a config.json defines (tensor type counts and tiedOutput are filled by the
// loader). Throws FormatError naming configPath.
ModelSpec specFromHfConfig(const nlohmann::json& config, const std::filesystem::path& configPath);

struct HfMapping {
  std::string gguf;  // GGUF tensor name
  HfTransform transform = HfTransform::None;
  int expert = -1;  // >= 0: one expert's slice of a stacked 3-D GGUF tensor
};

// nullopt for tensors the engine does not use (e.g. gpt2's attn.bias causal-mask buffer).
std::optional<HfMapping> mapHfTensorName(const ModelSpec& spec, const std::string& hfName);

}  // namespace ll::rt
