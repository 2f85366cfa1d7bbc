// Independent CPU renderings for the render tests: the heatmap colour of each pixel (same
// colormap tables, same normalisation rules as documented in heatmap_types.h) and a CPU-built
// level-of-detail pyramid (2x2 max / mean, NaN ignored).
#pragma once

#include "visualizers/heatmap_types.h"

#include <cstdint>
#include <vector>

namespace ll::test {

struct CpuLevel {
  int rows = 0;
  int cols = 0;
  std::vector<float> max;
  std::vector<float> mean;
};

// Level 0 (the data itself) up to 1 x 1.
std::vector<CpuLevel> buildCpuPyramid(const std::vector<float>& values, int rows, int cols);

// Colour of a value after normalisation, from the colormap table (RGBA8).
void colormapColor(vis::Colormap map, float t, uint8_t out[4]);

struct CpuRenderInput {
  const std::vector<float>* values = nullptr;  // level-0 matrix
  int rows = 0;
  int cols = 0;
  int tileSize = 1 << 30;  // pyramids are per tile
  vis::HeatmapStyle style;
  vis::HeatmapView view;
  vis::HeatmapMarker marker;  // drawn over everything (default: none)
  int width = 0;
  int height = 0;
};

std::vector<uint8_t> renderCpu(const CpuRenderInput& in);

struct PixelDiff {
  int maxDiff = 0;
  int x = -1;
  int y = -1;
};
PixelDiff compareRgba(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int width);

}  // namespace ll::test
