// Minimal .npy reader/writer (little-endian f32 / i32, C order) for steering vectors and the CLI's
// --dump. Reads are bounds-checked: a .npy file is untrusted input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace ll::rt {

void writeNpy(const std::filesystem::path& path, const float* data,
              const std::vector<int64_t>& shape);
void writeNpy(const std::filesystem::path& path, const int32_t* data,
              const std::vector<int64_t>& shape);

struct NpyF32 {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
// Accepts <f4 and <f8 (converted); throws std::runtime_error naming the file and the problem.
NpyF32 readNpyF32(const std::filesystem::path& path);

}  // namespace ll::rt
