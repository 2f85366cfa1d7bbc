// Safetensors reader (Hugging Face weights): 8-byte header length, JSON header, raw tensor bytes.
// Every offset in the header is checked against the file; a header that lies is a FormatError.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/quant.h"
#include "runtime/formats/mapped_file.h"

namespace ll::rt {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16"
  kern::QType type = kern::QType::F32;
  std::vector<int64_t> shape;  // torch order: shape[0] is the slowest dimension
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t nElements() const;
};

class SafetensorsFile {
 public:
  static std::unique_ptr<SafetensorsFile> open(const std::filesystem::path& path);  // FormatError

  const std::filesystem::path& path() const { return m_path; }
  const std::vector<SafetensorsTensor>& tensors() const { return m_tensors; }
  const SafetensorsTensor* tensor(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return m_meta; }
  std::shared_ptr<const MappedFile> mapping() const { return m_map; }

 private:
  std::filesystem::path m_path;
  std::vector<SafetensorsTensor> m_tensors;
  std::map<std::string, size_t> m_index;
  std::map<std::string, std::string> m_meta;
  std::shared_ptr<const MappedFile> m_map;
};

}  // namespace ll::rt
