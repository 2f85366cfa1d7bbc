// llama.cpp control-vector GGUF files (general.architecture "controlvector", one F32 tensor
// "direction.<layer>" of n_embd values per steered layer, controlvector.model_hint and
// controlvector.layer_count metadata): import into per-layer steering vectors and export them.
// llama.cpp adds direction.<l> to the output of layer l (layer 0 is never used there).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ll::rt::ana {

struct ControlVector {
  std::string modelHint;                     // e.g. "llama"
  int layerCount = 0;                        // controlvector.layer_count as stored
  std::map<int, std::vector<float>> layers;  // layer -> direction [n_embd]
};

// Throws std::runtime_error naming the file and the problem (not a GGUF, wrong architecture,
// bad tensor name or shape, expectedEmbd mismatch when > 0).
ControlVector readControlVector(const std::filesystem::path& path, int expectedEmbd = 0);
// Every direction must have the same length; layers must be >= 1 (llama.cpp rejects 0).
void writeControlVector(const std::filesystem::path& path, const ControlVector& cv);

}  // namespace ll::rt::ana
