#include "visualizers/heatmap_types.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ll::vis {

HeatmapView HeatmapView::fit(int rows, int cols, int widthPx, int heightPx, bool keepAspect) {
  HeatmapView v;
  double w = std::max(1, widthPx);
  double h = std::max(1, heightPx);
  v.cellsPerPixelX = std::max(1, cols) / w;
  v.cellsPerPixelY = std::max(1, rows) / h;
  if (keepAspect) {
    double s = std::max(v.cellsPerPixelX, v.cellsPerPixelY);
    v.cellsPerPixelX = v.cellsPerPixelY = s;
    v.originX = -(w * s - cols) / 2.0;
    v.originY = -(h * s - rows) / 2.0;
  }
  return v;
}

double HeatmapView::levelOfDetail() const {
  double cpp = std::max(cellsPerPixelX, cellsPerPixelY);
  return cpp <= 1.0 ? 0.0 : std::log2(cpp);
}

ResolvedRange resolveRange(const HeatmapStyle& style, float dataMin, float dataMax,
                           float dataMinPositive) {
  ResolvedRange r;
  if (!(dataMin <= dataMax)) {  // no finite data
    dataMin = 0.0f;
    dataMax = 1.0f;
  }
  r.lo = style.lo.value_or(dataMin);
  r.hi = style.hi.value_or(dataMax);
  if (isDiverging(style.colormap) && !style.lo && !style.hi) {
    float m = std::max(std::fabs(r.lo), std::fabs(r.hi));
    r.lo = -m;
    r.hi = m;
  }
  if (style.normalization == Normalization::Log) {
    // log needs lo > 0: fall back to the smallest positive value, at most 1e-6 of hi.
    if (!(r.lo > 0.0f)) {
      float floor = r.hi > 0.0f ? r.hi * 1e-6f : 1e-6f;
      r.lo = dataMinPositive > 0.0f ? std::max(dataMinPositive, floor) : floor;
    }
    if (!(r.hi > r.lo)) r.hi = r.lo * 10.0f;
  } else if (!(r.hi > r.lo)) {
    r.hi = r.lo + 1.0f;
  }
  return r;
}

ResolvedRange resolveRange(const HeatmapStyle& style, const HeatmapMatrix& matrix) {
  float mn = std::numeric_limits<float>::infinity(), mx = -mn, minPos = mn;
  for (float v : matrix.values) {
    if (!std::isfinite(v)) continue;
    mn = std::min(mn, v);
    mx = std::max(mx, v);
    if (v > 0.0f) minPos = std::min(minPos, v);
  }
  if (!(mn <= mx)) return resolveRange(style, 0.0f, -1.0f, 0.0f);
  return resolveRange(style, mn, mx, std::isfinite(minPos) ? minPos : 0.0f);
}

}  // namespace ll::vis
