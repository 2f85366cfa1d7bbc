// Checks that a loaded model is complete: hyperparameters are sane and every tensor the engine
// reads exists with the shape the spec implies (GGUF names and ne order).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/model/model.h"

namespace ll::rt {

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> ne;
};

// Throws FormatError naming file and the first bad value.
void validateSpec(const ModelSpec& spec, const std::filesystem::path& file);
// The tensors the engine needs for this spec (optional ones are not listed).
std::vector<ExpectedTensor> expectedTensors(const ModelSpec& spec);
// Throws FormatError listing every missing or mis-shaped tensor.
void checkTensors(const ModelSpec& spec, const WeightStore& weights,
                  const std::filesystem::path& file);

}  // namespace ll::rt
