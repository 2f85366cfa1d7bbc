// GGUF v2/v3 reader: memory-maps the file, parses header, metadata (every value type, nested
// arrays) and tensor infos with every read bounds-checked. Tensor data is paged in on use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "kernels/quant.h"
#include "runtime/formats/mapped_file.h"

namespace ll::rt {

struct GgufValue;
using GgufArray = std::vector<GgufValue>;

// One metadata value. Integers keep their signedness; arrays may nest.
struct GgufValue {
  enum class Type : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8,
    Array = 9, U64 = 10, I64 = 11, F64 = 12
  };
  Type type = Type::U8;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> v;
  Type arrayType = Type::U8;  // element type when type == Array

  std::optional<int64_t> asInt() const;     // any integer type (or bool)
  std::optional<double> asFloat() const;    // any numeric type
  const std::string* asString() const;      // String only
  const GgufArray* asArray() const;         // Array only
};

struct GgufTensorInfo {
  std::string name;
  kern::QType type = kern::QType::F32;
  std::vector<int64_t> ne;  // ne[0] = row length (fastest), ne[1] = rows, ...
  uint64_t offset = 0;      // relative to the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t nElements() const;
};

class GgufFile {
 public:
  // Throws FormatError naming the file and the problem.
  static std::unique_ptr<GgufFile> open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return m_path; }
  uint32_t version() const { return m_version; }
  uint64_t fileSize() const;
  size_t alignment() const { return m_alignment; }

  const std::map<std::string, GgufValue>& metadata() const { return m_meta; }
  const GgufValue* find(const std::string& key) const;
  std::optional<int64_t> getInt(const std::string& key) const;
  std::optional<double> getFloat(const std::string& key) const;
  std::optional<std::string> getString(const std::string& key) const;
  // String arrays (e.g. tokenizer.ggml.tokens) without copying element by element twice.
  std::vector<std::string> getStringArray(const std::string& key) const;
  std::vector<float> getFloatArray(const std::string& key) const;
  std::vector<int64_t> getIntArray(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return m_tensors; }
  const GgufTensorInfo* tensor(const std::string& name) const;
  std::shared_ptr<const MappedFile> mapping() const { return m_map; }

 private:
  std::filesystem::path m_path;
  uint32_t m_version = 0;
  size_t m_alignment = 32;
  std::map<std::string, GgufValue> m_meta;
  std::vector<GgufTensorInfo> m_tensors;
  std::map<std::string, size_t> m_index;
  std::shared_ptr<const MappedFile> m_map;
};

}  // namespace ll::rt
