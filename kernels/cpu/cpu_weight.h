// The CPU backend's weight: a view of the file bytes (never expanded to f32 in memory) plus the
// f32 copy of vectors. Shared by the CPU backend's translation units.
#pragma once

#include <vector>

#include "kernels/backend.h"

namespace ll::kern {

class CpuWeight : public Weight {
 public:
  const uint8_t* data = nullptr;  // not owned: WeightDesc::data outlives the weight
  size_t rowBytes = 0;
  std::vector<float> vec;  // rows == 1: the f32 values

  const uint8_t* rowPtr(int64_t r) const { return data + size_t(r) * rowBytes; }
};

// Dequantizes rows [r0, r0 + count) of w into dst (count * cols floats, row-major).
void dequantizeRows(const CpuWeight& w, int64_t r0, int64_t count, float* dst);

}  // namespace ll::kern
