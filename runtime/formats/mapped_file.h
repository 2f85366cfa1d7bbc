// A read-only memory mapping of a whole file, and the FormatError every reader throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace ll::rt {

// A bad or unreadable input file: the message names the file and the problem.
class FormatError : public std::runtime_error {
 public:
  FormatError(const std::filesystem::path& file, const std::string& problem)
      : std::runtime_error(file.string() + ": " + problem), m_file(file), m_problem(problem) {}
  const std::filesystem::path& file() const { return m_file; }
  const std::string& problem() const { return m_problem; }

 private:
  std::filesystem::path m_file;
  std::string m_problem;
};

class MappedFile {
 public:
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);  // FormatError
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return m_data; }
  size_t size() const { return m_size; }
  const std::filesystem::path& path() const { return m_path; }

 private:
  MappedFile() = default;
  std::filesystem::path m_path;
  const uint8_t* m_data = nullptr;
  size_t m_size = 0;
};

}  // namespace ll::rt
