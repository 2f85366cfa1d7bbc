// GGUF v3 writer: metadata of every scalar and array type, tensors of any ggml type produced on
// demand (so multi-GB benchmark models stream to disk), written atomically. One writer for the
// demo model, llama.cpp control vectors and the test/benchmark fixtures.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace ll::rt {

class GgufWriter {
 public:
  void addU32(const std::string& key, uint32_t v);
  void addI32(const std::string& key, int32_t v);
  void addF32(const std::string& key, float v);
  void addBool(const std::string& key, bool v);
  void addString(const std::string& key, const std::string& v);
  void addStringArray(const std::string& key, const std::vector<std::string>& v);
  void addF32Array(const std::string& key, const std::vector<float>& v);
  void addI32Array(const std::string& key, const std::vector<int32_t>& v);
  // Copies every metadata entry whose key starts with prefix from another GGUF file.
  void copyMetadata(const std::filesystem::path& gguf, const std::string& prefix);

  // type: ggml type id (0 F32, 1 F16, 8 Q8_0, ...). ne[0] = row length. bytes() is called once,
  // at write time, and must return exactly the tensor's size in that type.
  void addTensor(const std::string& name, uint32_t type, std::vector<int64_t> ne,
                 std::function<std::vector<uint8_t>()> bytes);
  // An F32 tensor from values; data.size() must equal the product of ne.
  void addTensorF32(const std::string& name, std::vector<int64_t> ne, std::vector<float> data);

  // Writes to a temporary file next to path and renames it into place, so a failed write never
  // leaves a half-written model. Throws std::runtime_error naming the file.
  void write(const std::filesystem::path& path) const;

 private:
  struct Kv {
    std::string key;
    std::vector<uint8_t> encoded;  // type id + value
  };
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<int64_t> ne;
    std::function<std::vector<uint8_t>()> bytes;
  };
  std::vector<Kv> m_kv;
  std::vector<Tensor> m_tensors;
};

}  // namespace ll::rt
