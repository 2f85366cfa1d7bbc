#include "visualizers/head_grid.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace ll::vis {

HeadGridAtlas buildHeadGridAtlas(std::span<const float> attention, int nLayer, int nHead,
                                 int nTokens, int maxSide, int gap) {
  if (nLayer <= 0 || nHead <= 0 || nTokens <= 0 || maxSide <= 0 || gap < 0 || nLayer > 4096 ||
      nHead > 4096)
    throw std::invalid_argument("head grid: invalid dimensions");
  const size_t perHead = static_cast<size_t>(nTokens) * nTokens;
  if (attention.size() != perHead * nLayer * nHead)
    throw std::invalid_argument("head grid: " + std::to_string(attention.size()) +
                                " values do not make " + std::to_string(nLayer) + " x " +
                                std::to_string(nHead) + " heads of " + std::to_string(nTokens) +
                                " x " + std::to_string(nTokens));
  HeadGridAtlas a;
  a.nLayer = nLayer;
  a.nHead = nHead;
  a.nTokens = nTokens;
  a.gap = gap;
  a.block = (nTokens + maxSide - 1) / maxSide;
  a.side = (nTokens + a.block - 1) / a.block;
  const int pitch = a.side + gap;
  a.matrix.rows = nLayer * pitch - gap;
  a.matrix.cols = nHead * pitch - gap;
  a.matrix.values.assign(static_cast<size_t>(a.matrix.rows) * a.matrix.cols,
                         std::numeric_limits<float>::quiet_NaN());
  for (int l = 0; l < nLayer; ++l)
    for (int h = 0; h < nHead; ++h) {
      const float* src = attention.data() + (static_cast<size_t>(l) * nHead + h) * perHead;
      for (int y = 0; y < a.side; ++y)
        for (int x = 0; x < a.side; ++x) {
          float m = std::numeric_limits<float>::quiet_NaN();
          for (int q = y * a.block; q < std::min(nTokens, (y + 1) * a.block); ++q)
            for (int k = x * a.block; k < std::min(nTokens, (x + 1) * a.block); ++k) {
              const float v = src[static_cast<size_t>(q) * nTokens + k];
              if (!std::isnan(v)) m = std::isnan(m) ? v : std::max(m, v);
            }
          a.matrix.values[static_cast<size_t>(l * pitch + y) * a.matrix.cols + h * pitch + x] = m;
        }
    }
  return a;
}

std::optional<HeadGridAtlas::Hit> HeadGridAtlas::hitTest(double col, double row) const {
  if (col < 0 || row < 0 || col >= matrix.cols || row >= matrix.rows || side <= 0)
    return std::nullopt;
  const int pitch = side + gap;
  const int c = static_cast<int>(std::floor(col)), r = static_cast<int>(std::floor(row));
  const int x = c % pitch, y = r % pitch;
  if (x >= side || y >= side) return std::nullopt;  // in a gap
  return Hit{r / pitch, c / pitch, y * block, x * block};
}

}  // namespace ll::vis
