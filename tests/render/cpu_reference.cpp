#include "cpu_reference.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace ll::test {

std::vector<CpuLevel> buildCpuPyramid(const std::vector<float>& values, int rows, int cols) {
  std::vector<CpuLevel> levels;
  CpuLevel l0{rows, cols, values, values};
  levels.push_back(l0);
  while (levels.back().rows > 1 || levels.back().cols > 1) {
    const CpuLevel& s = levels.back();
    CpuLevel d;
    d.rows = (s.rows + 1) / 2;
    d.cols = (s.cols + 1) / 2;
    d.max.assign(static_cast<size_t>(d.rows) * d.cols, 0.0f);
    d.mean = d.max;
    for (int y = 0; y < d.rows; ++y)
      for (int x = 0; x < d.cols; ++x) {
        float mx = std::numeric_limits<float>::quiet_NaN();
        float sum = 0.0f;
        int n = 0;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) {
            int sy = 2 * y + dy, sx = 2 * x + dx;
            if (sy >= s.rows || sx >= s.cols) continue;
            float a = s.max[static_cast<size_t>(sy) * s.cols + sx];
            float b = s.mean[static_cast<size_t>(sy) * s.cols + sx];
            if (!std::isnan(a)) mx = std::isnan(mx) ? a : std::max(mx, a);
            if (!std::isnan(b)) {
              sum += b;
              ++n;
            }
          }
        d.max[static_cast<size_t>(y) * d.cols + x] = mx;
        d.mean[static_cast<size_t>(y) * d.cols + x] =
            n ? sum / n : std::numeric_limits<float>::quiet_NaN();
      }
    levels.push_back(std::move(d));
  }
  return levels;
}

void colormapColor(vis::Colormap map, float t, uint8_t out[4]) {
  const auto& lut = vis::colormapLut(map);
  t = std::clamp(t, 0.0f, 1.0f);
  float x = t * 255.0f;
  int i = std::min(static_cast<int>(std::floor(x)), 254);
  float f = x - i;
  for (int ch = 0; ch < 3; ++ch) {
    float a = lut[i * 4 + ch] / 255.0f;
    float b = lut[(i + 1) * 4 + ch] / 255.0f;
    out[ch] = static_cast<uint8_t>(std::lround(std::clamp(a + (b - a) * f, 0.0f, 1.0f) * 255.0f));
  }
  out[3] = 255;
}

namespace {

uint8_t toByte(float v) {
  return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
}

// Marker line level along one axis (1: line, 2: halo, 0: none) for pixel p, band [b0, b1), cell
// k pixels away = floor(origin + (p + 0.5 + k) * cpp) in float as the shader computes it.
// Outside: the two pixels before and after the band; inside: the band's outermost two pixels.
int markerEdge(float origin, float cpp, int p, int b0, int b1, bool inside) {
  auto cell = [&](int k) {
    return static_cast<int>(std::floor(origin + (static_cast<float>(p) + 0.5f + k) * cpp));
  };
  const int c = cell(0);
  for (int k = 1; k <= 2; ++k) {
    if (inside) {
      if (c >= b0 && c < b1 && (cell(-k) < b0 || cell(k) >= b1)) return k;
    } else if ((c < b0 && cell(k) >= b0) || (c >= b1 && cell(-k) < b1)) {
      return k;
    }
  }
  return 0;
}

int markerLevel(const CpuRenderInput& in, int px, int py, int row, int col) {
  const vis::HeatmapMarker& m = in.marker;
  if (m.empty()) return 0;
  const bool box = m.kind == vis::HeatmapMarker::Kind::Box;
  const float ox = static_cast<float>(in.view.originX), oy = static_cast<float>(in.view.originY);
  const float cx = static_cast<float>(in.view.cellsPerPixelX);
  const float cy = static_cast<float>(in.view.cellsPerPixelY);
  int ly = m.hasRows() ? markerEdge(oy, cy, py, m.row0, m.row1, box) : 0;
  int lx = m.hasCols() ? markerEdge(ox, cx, px, m.col0, m.col1, box) : 0;
  if (box) {
    if (col < m.col0 || col >= m.col1) ly = 0;
    if (row < m.row0 || row >= m.row1) lx = 0;
  }
  if (ly == 0 || lx == 0) return std::max(lx, ly);
  return std::min(lx, ly);
}

}  // namespace

std::vector<uint8_t> renderCpu(const CpuRenderInput& in) {
  const auto& vals = *in.values;
  // Global statistics over finite values, as the uploader computes them.
  float mn = std::numeric_limits<float>::infinity(), mx = -mn, minPos = mn;
  std::vector<float> rowMin(in.rows, 0.0f), rowMax(in.rows, 0.0f);
  for (int r = 0; r < in.rows; ++r) {
    float a = std::numeric_limits<float>::infinity(), b = -a;
    for (int c = 0; c < in.cols; ++c) {
      float v = vals[static_cast<size_t>(r) * in.cols + c];
      if (!std::isfinite(v)) continue;
      a = std::min(a, v);
      b = std::max(b, v);
      if (v > 0) minPos = std::min(minPos, v);
    }
    if (a <= b) {
      rowMin[r] = a;
      rowMax[r] = b;
    }
    mn = std::min(mn, a);
    mx = std::max(mx, b);
  }
  const vis::ResolvedRange range = vis::resolveRange(
      in.style, mn <= mx ? mn : 0.0f, mn <= mx ? mx : -1.0f, std::isfinite(minPos) ? minPos : 0.0f);

  // Per-tile pyramids.
  struct Tile {
    int col0, row0, cols, rows;
    std::vector<CpuLevel> levels;
  };
  std::vector<Tile> tiles;
  for (int r0 = 0; r0 < in.rows; r0 += in.tileSize)
    for (int c0 = 0; c0 < in.cols; c0 += in.tileSize) {
      Tile t{c0, r0, std::min(in.tileSize, in.cols - c0), std::min(in.tileSize, in.rows - r0), {}};
      std::vector<float> sub(static_cast<size_t>(t.rows) * t.cols);
      for (int r = 0; r < t.rows; ++r)
        for (int c = 0; c < t.cols; ++c)
          sub[static_cast<size_t>(r) * t.cols + c] =
              vals[static_cast<size_t>(r0 + r) * in.cols + c0 + c];
      t.levels = buildCpuPyramid(sub, t.rows, t.cols);
      tiles.push_back(std::move(t));
    }

  const double lod = in.view.levelOfDetail();
  std::vector<uint8_t> img(static_cast<size_t>(in.width) * in.height * 4);
  const float ox = static_cast<float>(in.view.originX), oy = static_cast<float>(in.view.originY);
  const float cx = static_cast<float>(in.view.cellsPerPixelX);
  const float cy = static_cast<float>(in.view.cellsPerPixelY);
  for (int py = 0; py < in.height; ++py)
    for (int px = 0; px < in.width; ++px) {
      uint8_t* o = &img[(static_cast<size_t>(py) * in.width + px) * 4];
      for (int ch = 0; ch < 3; ++ch) o[ch] = toByte(in.style.backgroundRgb[ch]);
      o[3] = 255;
      const int col = static_cast<int>(std::floor(ox + (px + 0.5f) * cx));
      const int row = static_cast<int>(std::floor(oy + (py + 0.5f) * cy));
      if (col < 0 || row < 0 || col >= in.cols || row >= in.rows) continue;
      if (const int mark = markerLevel(in, px, py, row, col)) {
        const float* rgb = mark == 1 ? in.style.markerRgb : in.style.markerHaloRgb;
        for (int ch = 0; ch < 3; ++ch) o[ch] = toByte(rgb[ch]);
        continue;
      }
      const Tile& t = tiles[static_cast<size_t>(row / in.tileSize) *
                                ((in.cols + in.tileSize - 1) / in.tileSize) +
                            col / in.tileSize];
      const int level = std::clamp(static_cast<int>(std::floor(lod + 1e-9)), 0,
                                   static_cast<int>(t.levels.size()) - 1);
      const int tx = (col - t.col0) >> level, ty = (row - t.row0) >> level;
      const int bx = t.col0 + (tx << level), by = t.row0 + (ty << level);
      if (vis::maskedBlock(in.style, by, bx, 1 << level)) {
        const bool dark = (((px + py) >> 2) & 1) == 1;
        for (int ch = 0; ch < 3; ++ch) o[ch] = toByte(in.style.maskRgb[ch] * (dark ? 0.85f : 1.0f));
        continue;
      }
      const CpuLevel& L = t.levels[level];
      const size_t idx = static_cast<size_t>(ty) * L.cols + tx;
      const float v =
          (level == 0 || in.style.lod == vis::LodReduction::Max) ? L.max[idx] : L.mean[idx];
      if (std::isnan(v)) continue;
      float tt;
      switch (in.style.normalization) {
        case vis::Normalization::Log:
          tt = (std::log(std::max(v, range.lo)) - std::log(range.lo)) /
               (std::log(range.hi) - std::log(range.lo));
          break;
        case vis::Normalization::PerRow: {
          const float span = rowMax[by] - rowMin[by];
          tt = span > 0 ? (v - rowMin[by]) / span : 0.5f;
          break;
        }
        default:
          tt = (v - range.lo) / (range.hi - range.lo);
      }
      colormapColor(in.style.colormap, tt, o);
    }
  return img;
}

PixelDiff compareRgba(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int width) {
  PixelDiff d;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (i % 4 == 3) continue;
    const int diff = std::abs(int(a[i]) - int(b[i]));
    if (diff > d.maxDiff) {
      d.maxDiff = diff;
      d.x = static_cast<int>((i / 4) % width);
      d.y = static_cast<int>((i / 4) / width);
    }
  }
  if (a.size() != b.size()) d.maxDiff = 256;
  return d;
}

}  // namespace ll::test
