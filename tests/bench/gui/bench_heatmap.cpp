// bench_heatmap: frame time to pan an N x N attention map (default 8192) at several zoom levels
// and the time to upload a new map (staging + LOD pyramid build), on the offscreen Vulkan path
// (lavapipe when present). Prints figures; not part of ctest.
//   bench_heatmap [--size N] [--frames F] [--width W --height H]
#include "visualizers/vk/heatmap_renderer.h"
#include "visualizers/vk/offscreen.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

using namespace ll::vis;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

long rssMiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 8192, frames = 60, width = 1280, height = 800;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--size"))
      n = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--frames"))
      frames = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--width"))
      width = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--height"))
      height = std::atoi(argv[i + 1]);
  }
  if (n <= 0 || n > 65536 || frames <= 0 || width <= 0 || height <= 0) {
    std::fprintf(stderr, "bench_heatmap: bad arguments\n");
    return 2;
  }
  try {
    vk::OffscreenContext ctx;
    std::printf("device: %s\nmap %d x %d, viewport %d x %d, %d frames per case\n",
                ctx.deviceName().c_str(), n, n, width, height, frames);
    vk::OffscreenTarget target(ctx.refs(), width, height);
    vk::HeatmapRenderer r(ctx.refs(), target.renderPass());

    // Upload: a causal attention-like map generated row band by row band (no host copy).
    std::vector<double> uploads;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = Clock::now();
      r.setMatrix(n, n, [&](int row0, int nRows, float* dst) {
        for (int rr = 0; rr < nRows; ++rr) {
          const int q = row0 + rr;
          float* row = dst + static_cast<size_t>(rr) * n;
          for (int k = 0; k < n; ++k)
            row[k] = k <= q ? std::exp(-0.01f * float(q - k)) + (rep + 1) * (k == 0) : 0.0f;
        }
      });
      uploads.push_back(ms(Clock::now() - t0));
    }
    const auto& ut = r.texture().lastUploadTimings();
    std::printf(
        "upload new map: median %.1f ms (%.0f MB/s of matrix data); last: fill+stats %.1f ms, "
        "copy to tiles %.1f ms, GPU LOD pyramid %.1f ms\n",
        median(uploads), n * double(n) * 4 / 1e6 / (median(uploads) / 1e3), ut.fillMs, ut.copyMs,
        ut.pyramidMs);
    std::printf("device memory: %.0f MiB (%d tiles of <= %d), RSS %ld MiB\n",
                r.texture().deviceBytes() / 1048576.0, int(r.texture().tiles().size()),
                r.texture().tileSize(), rssMiB());

    HeatmapStyle style;
    style.causalMask = true;
    r.setStyle(style);
    struct Case {
      const char* name;
      double cellsPerPixel;
    };
    const double fit = double(n) / std::min(width, height);
    const Case cases[] = {{"zoomed in (4 px per cell)", 0.25},
                          {"1:1 (level 0)", 1.0},
                          {"8 cells per px", 8.0},
                          {"whole map fitted", fit}};
    for (const Case& c : cases) {
      HeatmapView v;
      v.cellsPerPixelX = v.cellsPerPixelY = c.cellsPerPixel;
      const double visibleW = width * c.cellsPerPixel;
      std::vector<double> draw, withReadback;
      for (int f = 0; f < frames; ++f) {
        // Pan diagonally across the map, one step per frame.
        const double t = frames > 1 ? double(f) / (frames - 1) : 0.0;
        v.originX = std::max(0.0, n - visibleW) * t;
        v.originY = std::max(0.0, n - height * c.cellsPerPixel) * t;
        const auto t0 = Clock::now();
        target.render(
            style.backgroundRgb,
            [&](VkCommandBuffer cb) {
              r.recordDraw(cb, {0, 0, float(width), float(height)}, v);
            },
            false);
        draw.push_back(ms(Clock::now() - t0));
      }
      for (int f = 0; f < std::min(frames, 10); ++f) {
        const auto t0 = Clock::now();
        target.render(style.backgroundRgb, [&](VkCommandBuffer cb) {
          r.recordDraw(cb, {0, 0, float(width), float(height)}, v);
        });
        withReadback.push_back(ms(Clock::now() - t0));
      }
      const int level = vk::HeatmapRenderer::lodLevelFor(v, r.texture().tiles()[0].levels());
      std::printf(
          "pan %-28s LOD %2d: median %6.2f ms/frame (%5.0f fps), max %6.2f ms; "
          "with pixel readback %6.2f ms\n",
          c.name, level, median(draw), 1000.0 / median(draw),
          *std::max_element(draw.begin(), draw.end()), median(withReadback));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_heatmap: %s\n", e.what());
    return 1;
  }
  return 0;
}
