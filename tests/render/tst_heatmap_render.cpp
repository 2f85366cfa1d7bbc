// Offscreen Vulkan render tests (lavapipe): known matrices drawn by the heatmap core are compared
// pixel by pixel with an independent CPU rendering of the same colormap (max channel difference
// <= 2/255); the GPU-built LOD pyramid is compared with a CPU-built one; a 16k x 16k map is
// uploaded and drawn with bounded host memory.
#include "cpu_reference.h"
#include "ui/theme.h"
#include "visualizers/head_grid.h"
#include "visualizers/qt/heatmap_export.h"
#include "visualizers/routing.h"
#include "visualizers/vk/heatmap_renderer.h"
#include "visualizers/vk/offscreen.h"

#include <QImage>
#include <QTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

using namespace ll;

namespace {

constexpr int kTolerance = 2;  // 2/255 per channel

long rssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

QString describe(const test::PixelDiff& d, const std::vector<uint8_t>& gpu,
                 const std::vector<uint8_t>& cpu, int width) {
  if (d.x < 0) return QStringLiteral("size mismatch");
  const size_t i = (static_cast<size_t>(d.y) * width + d.x) * 4;
  return QStringLiteral("max channel diff %1 at (%2,%3): gpu %4,%5,%6 cpu %7,%8,%9")
      .arg(d.maxDiff)
      .arg(d.x)
      .arg(d.y)
      .arg(gpu[i])
      .arg(gpu[i + 1])
      .arg(gpu[i + 2])
      .arg(cpu[i])
      .arg(cpu[i + 1])
      .arg(cpu[i + 2]);
}

void saveOnFailure(const std::vector<uint8_t>& px, int w, int h, const QString& name) {
  QImage img(px.data(), w, h, w * 4, QImage::Format_RGBA8888);
  img.save(QDir::temp().filePath(name + QStringLiteral(".png")));
}

}  // namespace

class TstHeatmapRender : public QObject {
  Q_OBJECT

  std::unique_ptr<vis::vk::OffscreenContext> m_ctx;

  // Renders values with the GPU core and with the CPU reference and compares.
  void renderAndCompare(const std::vector<float>& values, int rows, int cols,
                        const vis::HeatmapStyle& style, const vis::HeatmapView& view, int width,
                        int height, const char* name, int tileSize = 0,
                        const vis::HeatmapMarker& marker = {}) {
    vis::vk::OffscreenTarget target(m_ctx->refs(), width, height);
    vis::vk::HeatmapRenderer r(m_ctx->refs(), target.renderPass(), VK_SAMPLE_COUNT_1_BIT, tileSize);
    r.setMatrix(values, rows, cols);
    r.setStyle(style);
    r.setMarker(marker);
    auto gpu = target.render(style.backgroundRgb, [&](VkCommandBuffer cb) {
      r.recordDraw(cb, {0, 0, float(width), float(height)}, view);
    });
    test::CpuRenderInput in;
    in.values = &values;
    in.rows = rows;
    in.cols = cols;
    in.tileSize = r.texture().tileSize();
    in.style = style;
    in.view = view;
    in.marker = marker;
    in.width = width;
    in.height = height;
    auto cpu = test::renderCpu(in);
    const auto d = test::compareRgba(gpu, cpu, width);
    if (d.maxDiff > kTolerance) {
      saveOnFailure(gpu, width, height, QStringLiteral("ll_%1_gpu").arg(name));
      saveOnFailure(cpu, width, height, QStringLiteral("ll_%1_cpu").arg(name));
    }
    QVERIFY2(d.maxDiff <= kTolerance,
             qPrintable(QStringLiteral("%1: %2").arg(name, describe(d, gpu, cpu, width))));
  }

  static vis::HeatmapView scaled(int pxPerCell) {
    vis::HeatmapView v;
    v.cellsPerPixelX = v.cellsPerPixelY = 1.0 / pxPerCell;
    return v;
  }

 private slots:
  void initTestCase() {
    const bool expect = qgetenv("LAYERLENS_EXPECT_LAVAPIPE") == "1";
    try {
      m_ctx = std::make_unique<vis::vk::OffscreenContext>();
    } catch (const vis::vk::NoVulkanDevice& e) {
      const QString msg =
          QStringLiteral(
              "lavapipe (mesa-vulkan-drivers) expected but no Vulkan device found (%1); "
              "install mesa-vulkan-drivers or unset LAYERLENS_EXPECT_LAVAPIPE")
              .arg(QString::fromUtf8(e.what()));
      if (expect) QFAIL(qPrintable(msg));
      QSKIP(qPrintable(QStringLiteral("no Vulkan device: ") + QString::fromUtf8(e.what())));
    }
    qInfo("Vulkan device: %s", m_ctx->deviceName().c_str());
    if (expect && !m_ctx->isLavapipe())
      QFAIL(qPrintable(QStringLiteral("lavapipe (mesa-vulkan-drivers) expected but the "
                                      "device is %1")
                           .arg(QString::fromStdString(m_ctx->deviceName()))));
  }

  void cleanupTestCase() {
    if (m_ctx && m_ctx->validationEnabled())
      QVERIFY2(m_ctx->validationMessages() == 0,
               qPrintable(QStringLiteral("%1 Vulkan validation messages (see stderr)")
                              .arg(m_ctx->validationMessages())));
  }

  void gradient() {
    const int rows = 48, cols = 64;
    std::vector<float> v(rows * cols);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) v[r * cols + c] = float(r * cols + c) / (rows * cols - 1);
    vis::HeatmapStyle s;
    renderAndCompare(v, rows, cols, s, scaled(4), cols * 4, rows * 4, "gradient");
    // Also check the endpoints against the colormap table directly.
    vis::vk::OffscreenTarget target(m_ctx->refs(), cols * 4, rows * 4);
    vis::vk::HeatmapRenderer r(m_ctx->refs(), target.renderPass());
    r.setMatrix(v, rows, cols);
    auto px = target.render(s.backgroundRgb, [&](VkCommandBuffer cb) {
      r.recordDraw(cb, {0, 0, float(cols * 4), float(rows * 4)}, scaled(4));
    });
    const auto& lut = vis::colormapLut(vis::Colormap::Viridis);
    const size_t last = (static_cast<size_t>(rows * 4 - 1) * cols * 4 + cols * 4 - 1) * 4;
    for (int ch = 0; ch < 3; ++ch) {
      QVERIFY(std::abs(int(px[ch]) - int(lut[ch])) <= kTolerance);
      QVERIFY(std::abs(int(px[last + ch]) - int(lut[255 * 4 + ch])) <= kTolerance);
    }
  }

  void singleHotCell() {
    const int n = 32;
    std::vector<float> v(n * n, 0.0f);
    v[7 * n + 21] = 1.0f;
    vis::HeatmapStyle s;
    s.colormap = vis::Colormap::Magma;
    renderAndCompare(v, n, n, s, scaled(5), n * 5, n * 5, "hot_cell");
  }

  void causalTriangle() {
    const int n = 40;
    std::vector<float> v(n * n, 0.0f);
    for (int r = 0; r < n; ++r)
      for (int c = 0; c <= r; ++c) v[r * n + c] = 1.0f / (r + 1) + 0.02f * c;
    vis::HeatmapStyle s;
    s.causalMask = true;
    renderAndCompare(v, n, n, s, scaled(6), n * 6, n * 6, "causal");
    // The masked region is drawn with the hatch colours, not a colormap colour.
    vis::vk::OffscreenTarget target(m_ctx->refs(), n * 6, n * 6);
    vis::vk::HeatmapRenderer r(m_ctx->refs(), target.renderPass());
    r.setMatrix(v, n, n);
    r.setStyle(s);
    auto px = target.render(s.backgroundRgb, [&](VkCommandBuffer cb) {
      r.recordDraw(cb, {0, 0, float(n * 6), float(n * 6)}, scaled(6));
    });
    const size_t i = (static_cast<size_t>(2 * 6 + 2) * n * 6 + 30 * 6 + 2) * 4;  // row 2, col 30
    const int g = px[i];
    QVERIFY2(std::abs(g - 199) <= 2 || std::abs(g - 169) <= 2, qPrintable(QString::number(g)));
    QCOMPARE(px[i], px[i + 1]);  // grey
  }

  // A sliding-window layer's map: keys older than the window are drawn as masked, like the causal
  // triangle, at every zoom level (LOD blocks entirely outside the band).
  void slidingWindowBand() {
    const int n = 48, w = 6;
    std::vector<float> v(n * n, 0.0f);
    for (int r = 0; r < n; ++r)
      for (int c = std::max(0, r - w + 1); c <= r; ++c) v[r * n + c] = 1.0f / w + 0.01f * (r - c);
    vis::HeatmapStyle s;
    s.causalMask = true;
    s.maskWindow = w;
    renderAndCompare(v, n, n, s, scaled(5), n * 5, n * 5, "window");
    vis::HeatmapView zoomedOut;
    zoomedOut.cellsPerPixelX = zoomedOut.cellsPerPixelY = 4.0;
    renderAndCompare(v, n, n, s, zoomedOut, n / 4, n / 4, "window_lod");
    vis::vk::OffscreenTarget target(m_ctx->refs(), n * 5, n * 5);
    vis::vk::HeatmapRenderer r(m_ctx->refs(), target.renderPass());
    r.setMatrix(v, n, n);
    r.setStyle(s);
    auto px = target.render(s.backgroundRgb, [&](VkCommandBuffer cb) {
      r.recordDraw(cb, {0, 0, float(n * 5), float(n * 5)}, scaled(5));
    });
    auto grey = [&](int row, int col) {
      const size_t i = (static_cast<size_t>(row * 5 + 2) * n * 5 + col * 5 + 2) * 4;
      return (std::abs(px[i] - 199) <= 2 || std::abs(px[i] - 169) <= 2) && px[i] == px[i + 1];
    };
    QVERIFY(grey(40, 2));            // older than the window: masked
    QVERIFY(grey(40, 40 - w));       // the first key outside the window
    QVERIFY(!grey(40, 40 - w + 1));  // the oldest key inside it is data
    QVERIFY(grey(3, 10));            // the causal triangle as before
  }

  // Masked cells take the theme's mask colour: dark in the dark theme (it was a light grey in
  // both), light in the light theme, always apart from the background.
  void maskColourFollowsTheme() {
    const int n = 16;
    std::vector<float> v(n * n, 0.5f);
    for (ui::Theme theme : {ui::Theme::Light, ui::Theme::Dark}) {
      vis::HeatmapStyle s;
      s.causalMask = true;
      ui::applyHeatmapTheme(s, theme);
      const QColor want = ui::themeColors(theme).heatmapMask;
      const char* name = theme == ui::Theme::Dark ? "mask_dark" : "mask_light";
      renderAndCompare(v, n, n, s, scaled(8), n * 8, n * 8, name);
      vis::vk::OffscreenTarget target(m_ctx->refs(), n * 8, n * 8);
      vis::vk::HeatmapRenderer r(m_ctx->refs(), target.renderPass());
      r.setMatrix(v, n, n);
      r.setStyle(s);
      auto px = target.render(s.backgroundRgb, [&](VkCommandBuffer cb) {
        r.recordDraw(cb, {0, 0, float(n * 8), float(n * 8)}, scaled(8));
      });
      // Both hatch stripes of cell (row 1, col 12): the mask colour and 0.85 of it.
      int seen = 0;
      for (int dx = 0; dx < 8; ++dx) {
        const size_t i = (static_cast<size_t>(1 * 8 + 3) * n * 8 + 12 * 8 + dx) * 4;
        const QColor got(px[i], px[i + 1], px[i + 2]);
        const bool plain = std::abs(got.red() - want.red()) <= 2 &&
                           std::abs(got.green() - want.green()) <= 2 &&
                           std::abs(got.blue() - want.blue()) <= 2;
        const bool hatch = std::abs(got.red() - int(std::lround(want.red() * 0.85))) <= 2 &&
                           std::abs(got.blue() - int(std::lround(want.blue() * 0.85))) <= 2;
        QVERIFY2(
            plain || hatch,
            qPrintable(
                QStringLiteral("%1: %2 at dx %3").arg(QLatin1String(name), got.name()).arg(dx)));
        seen |= plain ? 1 : 2;
        const double lum = got.lightnessF();
        if (theme == ui::Theme::Dark)
          QVERIFY2(lum < 0.3, qPrintable(got.name()));
        else
          QVERIFY2(lum > 0.6, qPrintable(got.name()));
      }
      QCOMPARE(seen, 3);
      const QColor bg = ui::themeColors(theme).heatmapBackground;
      QVERIFY(std::abs(bg.lightness() - want.lightness()) >= 20);
    }
  }

  // The selection marker: two-pixel lines (marker colour next to the band, halo outside it)
  // around the query row and key column, across the whole map, at any zoom; a head tile's frame
  // on its outermost pixels. GPU and CPU reference agree pixel for pixel.
  void selectionMarkers() {
    const int rows = 40, cols = 56;
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> v(rows * cols);
    for (float& x : v) x = u(rng);
    vis::HeatmapStyle s;
    s.causalMask = true;
    ui::applyHeatmapTheme(s, ui::Theme::Dark);
    vis::HeatmapMarker cross;
    cross.row0 = 7;
    cross.row1 = 8;
    cross.col0 = 11;
    cross.col1 = 12;
    renderAndCompare(v, rows, cols, s, scaled(4), cols * 4, rows * 4, "marker_cross", 0, cross);
    vis::HeatmapView out;
    out.cellsPerPixelX = 1.7;
    out.cellsPerPixelY = 1.3;
    renderAndCompare(v, rows, cols, s, out, 33, 31, "marker_cross_lod", 0, cross);
    renderAndCompare(v, rows, cols, s, scaled(3), cols * 3, rows * 3, "marker_tiled", 16, cross);
    vis::HeatmapMarker rowOnly = cross;
    rowOnly.col0 = rowOnly.col1 = 0;
    renderAndCompare(v, rows, cols, s, scaled(4), cols * 4, rows * 4, "marker_row", 0, rowOnly);
    vis::HeatmapMarker box;
    box.kind = vis::HeatmapMarker::Kind::Box;
    box.row0 = 10;
    box.row1 = 20;
    box.col0 = 0;
    box.col1 = 12;
    renderAndCompare(v, rows, cols, s, scaled(4), cols * 4, rows * 4, "marker_box", 0, box);
    renderAndCompare(v, rows, cols, s, out, 33, 31, "marker_box_lod", 0, box);

    // Where the lines are, read from the GPU frame at 4 pixels per cell.
    vis::vk::OffscreenTarget target(m_ctx->refs(), cols * 4, rows * 4);
    vis::vk::HeatmapRenderer r(m_ctx->refs(), target.renderPass());
    r.setMatrix(v, rows, cols);
    r.setStyle(s);
    r.setMarker(cross);
    auto px = target.render(s.backgroundRgb, [&](VkCommandBuffer cb) {
      r.recordDraw(cb, {0, 0, float(cols * 4), float(rows * 4)}, scaled(4));
    });
    auto at = [&](int x, int y) {
      const size_t i = (static_cast<size_t>(y) * cols * 4 + x) * 4;
      return QColor(px[i], px[i + 1], px[i + 2]);
    };
    const QColor white(255, 255, 255), black(0, 0, 0);
    for (int x : {2, 100, 200}) {  // the row lines span the map, also over the masked triangle
      QCOMPARE(at(x, 7 * 4 - 1), white);
      QCOMPARE(at(x, 7 * 4 - 2), black);
      QCOMPARE(at(x, 8 * 4), white);
      QCOMPARE(at(x, 8 * 4 + 1), black);
    }
    for (int y : {2, 150}) {
      QCOMPARE(at(11 * 4 - 1, y), white);
      QCOMPARE(at(12 * 4 + 1, y), black);
    }
    QVERIFY(at(100, 7 * 4 + 1) != white && at(100, 7 * 4 + 1) != black);  // the row itself shows
  }

  void logAndPerRowAndDiverging() {
    const int rows = 24, cols = 30;
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> pos(rows * cols), signedv(rows * cols);
    for (int i = 0; i < rows * cols; ++i) {
      pos[i] = std::pow(10.0f, -6.0f * u(rng));
      signedv[i] = 2.0f * u(rng) - 1.3f;
    }
    vis::HeatmapStyle s;
    s.normalization = vis::Normalization::Log;
    renderAndCompare(pos, rows, cols, s, scaled(4), cols * 4, rows * 4, "log");
    s.normalization = vis::Normalization::PerRow;
    renderAndCompare(pos, rows, cols, s, scaled(4), cols * 4, rows * 4, "per_row");
    s = vis::HeatmapStyle{};
    s.colormap = vis::Colormap::Diverging;
    renderAndCompare(signedv, rows, cols, s, scaled(4), cols * 4, rows * 4, "diverging");
    // NaN cells are "no data" and show the background.
    signedv[5] = std::nanf("");
    renderAndCompare(signedv, rows, cols, s, scaled(4), cols * 4, rows * 4, "nan");
  }

  void zoomAndPan() {
    const int n = 64;
    std::vector<float> v(n * n);
    for (int i = 0; i < n * n; ++i) v[i] = std::sin(i * 0.37f);
    vis::HeatmapStyle s;
    vis::HeatmapView view = scaled(8);
    view.originX = 10.0;  // panned: cells 10.. at the left edge, half a cell off at the top
    view.originY = 20.5;
    renderAndCompare(v, n, n, s, view, 200, 160, "pan");
  }

  void tiledMatrixHasNoSeams() {
    const int rows = 50, cols = 70;
    std::vector<float> v(rows * cols);
    for (int i = 0; i < rows * cols; ++i) v[i] = float((i * 7919) % 1000) / 999.0f;
    vis::HeatmapStyle s;
    renderAndCompare(v, rows, cols, s, scaled(3), cols * 3, rows * 3, "tiled", 16);
    // Zoomed out across tiles with both reductions (tile pyramids are per tile).
    vis::HeatmapView out;
    out.cellsPerPixelX = out.cellsPerPixelY = 2.0;
    renderAndCompare(v, rows, cols, s, out, 35, 25, "tiled_lod_max", 16);
    s.lod = vis::LodReduction::Mean;
    renderAndCompare(v, rows, cols, s, out, 35, 25, "tiled_lod_mean", 16);
  }

  void checkPyramid(size_t stagingBytes) {
    const int rows = 301, cols = 203;  // odd sizes: partial 2x2 blocks at the edges
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(rows * cols);
    for (float& x : v) x = u(rng);
    for (int i = 0; i < rows * cols; i += 97) v[i] = std::nanf("");
    const int tile = 128;
    vis::vk::HeatmapTexture tex(m_ctx->refs(), tile, stagingBytes);
    tex.upload(v, rows, cols);
    QCOMPARE(int(tex.tiles().size()), 3 * 2);
    for (size_t ti = 0; ti < tex.tiles().size(); ++ti) {
      const auto& t = tex.tiles()[ti];
      std::vector<float> sub(static_cast<size_t>(t.rows) * t.cols);
      for (int r = 0; r < t.rows; ++r)
        for (int c = 0; c < t.cols; ++c) sub[r * t.cols + c] = v[(t.row0 + r) * cols + t.col0 + c];
      const auto cpu = test::buildCpuPyramid(sub, t.rows, t.cols);
      QCOMPARE(t.levels(), int(cpu.size()));
      for (int level = 0; level < int(cpu.size()); ++level) {
        for (auto red : {vis::LodReduction::Max, vis::LodReduction::Mean}) {
          int h = 0, w = 0;
          const auto gpu = tex.readLevel(ti, level, red, &h, &w);
          QCOMPARE(h, cpu[level].rows);
          QCOMPARE(w, cpu[level].cols);
          const auto& ref = red == vis::LodReduction::Max ? cpu[level].max : cpu[level].mean;
          for (size_t i = 0; i < ref.size(); ++i) {
            if (std::isnan(ref[i])) {
              QVERIFY2(std::isnan(gpu[i]), "NaN (no data) must stay NaN");
              continue;
            }
            QVERIFY2(std::abs(gpu[i] - ref[i]) <= 1e-6f * (1.0f + std::abs(ref[i])),
                     qPrintable(QStringLiteral("tile %1 level %2 %3 i %4: gpu %5 cpu %6")
                                    .arg(ti)
                                    .arg(level)
                                    .arg(int(red))
                                    .arg(i)
                                    .arg(gpu[i])
                                    .arg(ref[i])));
          }
        }
      }
    }
  }

  void lodPyramidMatchesCpu() {
    checkPyramid(vis::vk::HeatmapTexture::kStagingBytes);  // the whole matrix in one band
    if (QTest::currentTestFailed()) return;
    // A staging buffer of 7 rows: many bands, crossing tile edges at odd offsets.
    checkPyramid(203 * sizeof(float) * 7);
  }

  void headGridAtlasAndRouting() {
    // 3 layers x 4 heads of 6-token causal maps in one atlas: gaps are NaN (background).
    const int L = 3, H = 4, T = 6;
    std::vector<float> a(L * H * T * T, 0.0f);
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h)
        for (int q = 0; q < T; ++q)
          for (int k = 0; k <= q; ++k)
            a[((l * H + h) * T + q) * T + k] = float((l + 1) * (h + 1) * (k + 1)) / (q + 1);
    const vis::HeadGridAtlas g = vis::buildHeadGridAtlas(a, L, H, T, 64, 1);
    vis::HeatmapStyle s;
    s.colormap = vis::Colormap::Magma;
    renderAndCompare(g.matrix.values, g.matrix.rows, g.matrix.cols, s, scaled(4), g.matrix.cols * 4,
                     g.matrix.rows * 4, "head_grid");
    // Routing (token x expert) with signed scores on the diverging map, per-row normalised.
    std::vector<float> scores(2 * 9 * 8);
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = std::cos(0.7f * i) * (1.0f + i % 3);
    const vis::HeatmapMatrix m = vis::tokenByExpert({2, 9, 8, scores}, 1);
    s.colormap = vis::Colormap::Diverging;
    renderAndCompare(m.values, m.rows, m.cols, s, scaled(7), m.cols * 7, m.rows * 7, "routing");
    s.normalization = vis::Normalization::PerRow;
    renderAndCompare(m.values, m.rows, m.cols, s, scaled(7), m.cols * 7, m.rows * 7,
                     "routing_rows");
  }

  void exportImageMatchesCpu() {
    // The export path (own instance, QImage out) draws the same pixels as the CPU reference.
    const int rows = 20, cols = 30;
    std::vector<float> v(rows * cols);
    for (int i = 0; i < rows * cols; ++i) v[i] = std::sin(0.05f * i) * std::cos(0.11f * i);
    vis::HeatmapMatrix m{rows, cols, v};
    vis::HeatmapStyle s;
    s.colormap = vis::Colormap::Diverging;
    const QSize size = vis::exportSizeFor(rows, cols);
    QCOMPARE(size, QSize(256, 256));  // 8 px per cell, clamped up to 256
    QString err;
    const QImage img = vis::renderHeatmapImage(m, s, size, nullptr, &err);
    QVERIFY2(!img.isNull(), qPrintable(err));
    std::vector<uint8_t> gpu(size_t(size.width()) * size.height() * 4);
    for (int y = 0; y < size.height(); ++y)
      std::memcpy(gpu.data() + size_t(y) * size.width() * 4, img.constScanLine(y),
                  size.width() * 4);
    test::CpuRenderInput in;
    in.values = &v;
    in.rows = rows;
    in.cols = cols;
    in.style = s;
    in.view = vis::HeatmapView::fit(rows, cols, size.width(), size.height());
    in.width = size.width();
    in.height = size.height();
    const auto cpu = test::renderCpu(in);
    const auto d = test::compareRgba(gpu, cpu, size.width());
    QVERIFY2(d.maxDiff <= kTolerance, qPrintable(describe(d, gpu, cpu, size.width())));
    const QString path = QDir::temp().filePath(QStringLiteral("ll_export_test.png"));
    QVERIFY(vis::exportHeatmapPng(m, s, path, &err));
    QCOMPARE(QImage(path).size(), size);
    QVERIFY(vis::renderHeatmapImage(m, s, QSize(0, 10), nullptr, &err).isNull());
    QVERIFY(err.contains(QStringLiteral("invalid image size")));
  }

  void hugeMapWithBoundedMemory() {
    // 16384 x 16384 floats = 1 GiB on the device. The matrix is streamed row band by row band
    // through the bounded staging buffer, so no host copy of it exists.
    const int n = 16384;
    auto value = [n](int r, int c) { return 0.5f * r / (n - 1) + 0.5f * c / (n - 1); };
    const long before = rssKiB();
    vis::vk::OffscreenTarget target(m_ctx->refs(), 512, 512);
    vis::vk::HeatmapRenderer r(m_ctx->refs(), target.renderPass());
    r.setMatrix(n, n, [&](int row0, int nRows, float* dst) {
      for (int rr = 0; rr < nRows; ++rr)
        for (int c = 0; c < n; ++c) dst[static_cast<size_t>(rr) * n + c] = value(row0 + rr, c);
    });
    const long afterUpload = rssKiB();
    const double deviceMiB = r.texture().deviceBytes() / 1048576.0;
    vis::HeatmapView fit = vis::HeatmapView::fit(n, n, 512, 512);  // 32 cells per pixel: level 5
    std::vector<uint8_t> px;
    for (int frame = 0; frame < 3; ++frame)
      px = target.render(r.style().backgroundRgb, [&](VkCommandBuffer cb) {
        r.recordDraw(cb, {0, 0, 512, 512}, fit);
      });
    const long afterFrames = rssKiB();
    qInfo("16k x 16k: device %.0f MiB; RSS +%.0f MiB after upload, +%.0f MiB after 3 frames",
          deviceMiB, (afterUpload - before) / 1024.0, (afterFrames - afterUpload) / 1024.0);
    // lavapipe keeps device memory in host RAM: allow the textures plus the staging buffer
    // and 256 MiB of slack, but never a second full-size host copy (+1 GiB).
    QVERIFY2((afterUpload - before) / 1024.0 < deviceMiB + 32 + 256,
             qPrintable(QStringLiteral("RSS grew %1 MiB").arg((afterUpload - before) / 1024.0)));
    QVERIFY((afterFrames - afterUpload) / 1024.0 < 64);  // drawing allocates nothing per frame
    // Colours: the max pyramid at level 5 shows the block's largest value, i.e. its last cell.
    const auto range = r.range();
    for (int py : {0, 200, 511})
      for (int pxx : {0, 300, 511}) {
        const int br = py * 32, bc = pxx * 32;
        const float v = value(br + 31, bc + 31);
        uint8_t ref[4];
        test::colormapColor(vis::Colormap::Viridis, (v - range.lo) / (range.hi - range.lo), ref);
        const size_t i = (static_cast<size_t>(py) * 512 + pxx) * 4;
        for (int ch = 0; ch < 3; ++ch)
          QVERIFY2(std::abs(int(px[i + ch]) - int(ref[ch])) <= kTolerance,
                   qPrintable(QStringLiteral("pixel %1,%2").arg(pxx).arg(py)));
      }
  }
};

QTEST_GUILESS_MAIN(TstHeatmapRender)
#include "tst_heatmap_render.moc"
