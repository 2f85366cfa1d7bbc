// Reading and writing .npy files (float32, int32; C order) for tests and the CLI's --dump.
// Shared by tests through ll_testsupport; the runtime has its own writer in runtime/api.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lltest {

struct NpyArray {
  std::string dtype;  // "<f4", "<i4", "<f8", "<i8"
  std::vector<int64_t> shape;
  std::vector<float> f32;    // filled for float dtypes (f8 converted)
  std::vector<int32_t> i32;  // filled for int dtypes (i8 narrowed)
  int64_t size() const;
};

// Throws std::runtime_error naming the file on any problem.
NpyArray readNpy(const std::filesystem::path& path);
std::string readText(const std::filesystem::path& path);

}  // namespace lltest
