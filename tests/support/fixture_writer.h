// A small GGUF v3 writer for test and benchmark fixtures: metadata of every scalar/array type,
// tensors produced on demand (so multi-GB benchmark models stream to disk), F32/F16/Q8_0 encoders.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace lltest {

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

  // type: ggml type id (0 F32, 1 F16, 8 Q8_0). ne[0] = row length. bytes() is called once at write.
  void addTensor(const std::string& name, uint32_t type, std::vector<int64_t> ne,
                 std::function<std::vector<uint8_t>()> bytes);
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

// Encoders from f32 values.
std::vector<uint8_t> encodeF32(const std::vector<float>& v);
std::vector<uint8_t> encodeF16(const std::vector<float>& v);
std::vector<uint8_t> encodeQ8_0(const std::vector<float>& v);  // size a multiple of 32
size_t tensorBytes(uint32_t type, int64_t elements);

// Deterministic N(0, sigma^2)-ish values (sum of uniforms) for random-weight fixtures.
std::vector<float> randomValues(size_t n, float sigma, uint64_t seed);

}  // namespace lltest
