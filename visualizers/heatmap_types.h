// Plain value types describing what a heatmap shows and how (no Vulkan, no Qt): the matrix,
// the style (colormap, normalisation, causal mask, LOD reduction) and the view (zoom / pan).
#pragma once

#include "visualizers/colormap.h"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace ll::vis {

enum class Normalization {
  Linear,  // (v - lo) / (hi - lo)
  Log,     // log(v / lo) / log(hi / lo), v clamped to lo (> 0)
  PerRow,  // each row scaled to its own min..max (attention rows of different sharpness);
           // zoomed out (LOD > 0) a block uses the range of its first row: an approximation
};

// Which level-of-detail pyramid is shown when several cells fall on one pixel.
enum class LodReduction { Max, Mean };

struct HeatmapStyle {
  Colormap colormap = Colormap::Viridis;
  Normalization normalization = Normalization::Linear;
  LodReduction lod = LodReduction::Max;
  bool causalMask = false;      // cells with col > row drawn as a hatch
  int maskWindow = 0;           // with causalMask, > 0: cells with row - col >= this too (window)
  std::optional<float> lo, hi;  // value range; auto (data min/max) when empty
  // Colours the theme decides (ui::applyHeatmapTheme): masked cells, no-data background, and
  // the two-pixel marker lines (the line itself and a contrasting halo beside it).
  float maskRgb[3] = {0.78f, 0.78f, 0.80f};
  float backgroundRgb[3] = {0.12f, 0.12f, 0.13f};
  float markerRgb[3] = {1.0f, 1.0f, 1.0f};
  float markerHaloRgb[3] = {0.0f, 0.0f, 0.0f};
};

// Selected cells the renderer frames with two-pixel lines (marker colour, then halo). Kept apart
// from the style so exports, which take only the style, never draw a selection.
struct HeatmapMarker {
  enum class Kind {
    Crosshair,  // full-length lines just outside the row band and just outside the column band
                // (the attention map: the selected query row and key column stay uncovered)
    Box,        // a frame on the outermost pixels inside the rectangle rows x cols (a head tile)
  };
  Kind kind = Kind::Crosshair;
  int row0 = 0, row1 = 0;  // rows [row0, row1); empty: no row lines
  int col0 = 0, col1 = 0;  // columns [col0, col1); empty: no column lines
  bool hasRows() const { return row1 > row0; }
  bool hasCols() const { return col1 > col0; }
  bool empty() const {
    return kind == Kind::Box ? !(hasRows() && hasCols()) : !(hasRows() || hasCols());
  }
  bool operator==(const HeatmapMarker&) const = default;
};

// Data cells (col = x, row = y) shown at the viewport's top-left corner and the zoom.
struct HeatmapView {
  double originX = 0.0;
  double originY = 0.0;
  double cellsPerPixelX = 1.0;
  double cellsPerPixelY = 1.0;

  // The whole matrix fitted into a viewport (cells stay square when keepAspect).
  static HeatmapView fit(int rows, int cols, int widthPx, int heightPx, bool keepAspect = false);
  double levelOfDetail() const;  // 2-log of cells per pixel, >= 0
};

// Whether the block of cells [row, row + n) x [col, col + n) is entirely masked by the style's
// causal mask and sliding window (n = 1: one cell). The shader and the CPU renderings agree on it.
inline bool maskedBlock(const HeatmapStyle& s, int row, int col, int n = 1) {
  if (!s.causalMask) return false;
  return col > row + n - 1 || (s.maskWindow > 0 && row - (col + n - 1) >= s.maskWindow);
}

// A row-major rows x cols matrix; NaN means "no data" (drawn as background).
struct HeatmapMatrix {
  int rows = 0;
  int cols = 0;
  std::vector<float> values;
  int maskWindow = 0;  // attention of a sliding-window layer: keys older than this are masked
  float at(int row, int col) const { return values[static_cast<size_t>(row) * cols + col]; }
};

// Value range a style resolves to for data with the given finite min / max (also what the
// shader uses, so CPU renderings match). Diverging maps get a range symmetric around 0.
struct ResolvedRange {
  float lo = 0.0f;
  float hi = 1.0f;
};
ResolvedRange resolveRange(const HeatmapStyle& style, float dataMin, float dataMax,
                           float dataMinPositive);
// The range the renderer resolves for this matrix (finite values only, as the uploader counts
// them): what a colour bar beside the map shows. PerRow has no single range; this is then the
// overall one.
ResolvedRange resolveRange(const HeatmapStyle& style, const HeatmapMatrix& matrix);

}  // namespace ll::vis
