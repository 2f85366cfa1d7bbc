// A loaded model: its spec, its weights (GGUF names, GGUF layout) and its tokenizer, from a GGUF
// file, a Hugging Face folder or a llama2.c checkpoint. HF weights are mapped to GGUF names and
// layouts at load (Q/K row permutation for llama, Conv1D transpose for gpt2) so the engine sees
// the same tensors whatever the source.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/quant.h"
#include "runtime/formats/mapped_file.h"
#include "runtime/model/model_spec.h"

namespace ll::rt {

class Tokenizer;

// A tensor's bytes in file type and GGUF layout. data points into an mmapped file or into a
// buffer owned by the WeightStore.
struct TensorData {
  std::string name;
  kern::QType type = kern::QType::F32;
  std::vector<int64_t> ne;  // ne[0] = row length
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t rows() const;     // product of ne[1..]
  int64_t cols() const { return ne.empty() ? 0 : ne[0]; }
};

class WeightStore {
 public:
  const TensorData* find(const std::string& name) const;
  const TensorData& get(const std::string& name) const;  // throws naming the tensor
  const std::map<std::string, TensorData>& all() const { return m_tensors; }
  void add(TensorData t);
  // Keeps a converted tensor's bytes alive and returns a pointer to them.
  const uint8_t* own(std::vector<uint8_t> bytes);
  void keep(std::shared_ptr<const MappedFile> map) { m_maps.push_back(std::move(map)); }

 private:
  std::map<std::string, TensorData> m_tensors;
  std::vector<std::vector<uint8_t>> m_owned;
  std::vector<std::shared_ptr<const MappedFile>> m_maps;
};

struct Model {
  std::filesystem::path path;
  std::string format;  // "gguf", "hf", "llama2c"
  uint64_t fileBytes = 0;
  ModelSpec spec;
  WeightStore weights;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string chatTemplate;  // tokenizer.chat_template when present
};

// Progress in [0, 1] with a short phase text; return false to cancel (throws then).
using LoadProgress = std::function<bool(float, const std::string&)>;

// Thrown by loadModel when the progress callback returns false.
class LoadCancelled : public std::runtime_error {
 public:
  LoadCancelled() : std::runtime_error("model loading cancelled") {}
};

// Opens a GGUF file, an HF folder (config.json + safetensors + tokenizer.json) or a llama2.c .bin
// (tokenizer: tok<N>.bin next to it, or tokenizerPath). Throws FormatError on bad input.
std::unique_ptr<Model> loadModel(const std::filesystem::path& path,
                                 const LoadProgress& progress = {},
                                 const std::filesystem::path& tokenizerPath = {});

}  // namespace ll::rt
