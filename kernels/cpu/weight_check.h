// Validation of a WeightDesc before a backend adopts it (shared by the reference and CPU backends):
// weight bytes come from untrusted model files, so shape, type and size are checked up front.
#pragma once

#include <stdexcept>
#include <string>

#include "kernels/backend.h"

namespace ll::kern {

// Throws std::runtime_error naming the weight when its shape, type or byte count is inconsistent.
// Returns the number of bytes of one row.
inline size_t checkWeightDesc(const WeightDesc& d) {
  auto fail = [&](const std::string& what) {
    throw std::runtime_error("weight '" + d.name + "': " + what);
  };
  auto info = qtypeInfo(static_cast<uint32_t>(d.type));
  if (!info) fail("unsupported tensor type " + std::to_string(static_cast<uint32_t>(d.type)));
  if (d.rows <= 0 || d.cols <= 0) fail("empty or negative shape");
  if (d.cols % info->blockSize != 0)
    fail("row length " + std::to_string(d.cols) + " is not a multiple of the " +
         std::string(info->name) + " block size " + std::to_string(info->blockSize));
  // Limits keep rows * rowBytes far from overflow (2^40 bytes per weight is far beyond any model).
  if (d.cols > (int64_t(1) << 32) || d.rows > (int64_t(1) << 32)) fail("shape too large");
  const size_t rb = rowBytes(d.type, d.cols);
  if (rb != 0 && size_t(d.rows) > (size_t(1) << 40) / rb) fail("shape too large");
  const size_t need = rb * size_t(d.rows);
  if (!d.data) fail("no data");
  if (d.nbytes < need)
    fail("has " + std::to_string(d.nbytes) + " bytes, its shape needs " + std::to_string(need));
  return rb;
}

}  // namespace ll::kern
