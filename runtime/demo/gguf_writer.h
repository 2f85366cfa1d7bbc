// A minimal GGUF v3 writer (scalar/string/array metadata, F32 tensors) used to write the built-in
// demo model with our own code, so the demo needs no download and no converter.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ll::rt::demo {

class GgufWriter {
 public:
  void addU32(const std::string& key, uint32_t v);
  void addF32(const std::string& key, float v);
  void addBool(const std::string& key, bool v);
  void addString(const std::string& key, const std::string& v);
  void addStringArray(const std::string& key, const std::vector<std::string>& v);
  void addF32Array(const std::string& key, const std::vector<float>& v);
  void addI32Array(const std::string& key, const std::vector<int32_t>& v);
  // ne[0] is the row length (GGUF order). data.size() must equal the product of ne.
  void addTensorF32(const std::string& name, std::vector<int64_t> ne, std::vector<float> data);
  // Writes to a temporary file next to `path` and renames it, so a failed write leaves no
  // half-written model behind. Throws std::runtime_error naming the file.
  void write(const std::filesystem::path& path) const;

 private:
  struct Kv {
    std::string key;
    std::vector<uint8_t> encoded;  // type id + value
  };
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    std::vector<float> data;
  };
  std::vector<Kv> m_kv;
  std::vector<Tensor> m_tensors;
};

}  // namespace ll::rt::demo
