#include "visualizers/qt/heatmap_export.h"

#include "visualizers/vk/heatmap_renderer.h"
#include "visualizers/vk/offscreen.h"

#include <algorithm>

namespace ll::vis {

QImage renderHeatmapImage(const HeatmapMatrix& matrix, const HeatmapStyle& style, QSize size,
                          const HeatmapView* view, QString* error) {
  if (size.width() <= 0 || size.height() <= 0 || size.width() > 16384 || size.height() > 16384) {
    if (error)
      *error = QStringLiteral("invalid image size %1 x %2").arg(size.width()).arg(size.height());
    return {};
  }
  try {
    // Exports prefer a real GPU when there is one; lavapipe otherwise.
    vk::OffscreenContext ctx(/*preferLavapipe=*/false);
    vk::OffscreenTarget target(ctx.refs(), size.width(), size.height());
    vk::HeatmapRenderer r(ctx.refs(), target.renderPass());
    r.setMatrix(matrix.values, matrix.rows, matrix.cols);
    r.setStyle(style);
    const HeatmapView v =
        view ? *view : HeatmapView::fit(matrix.rows, matrix.cols, size.width(), size.height());
    const auto px = target.render(style.backgroundRgb, [&](VkCommandBuffer cb) {
      r.recordDraw(cb, {0, 0, float(size.width()), float(size.height())}, v);
    });
    QImage img(size, QImage::Format_RGBA8888);
    for (int y = 0; y < size.height(); ++y)
      std::copy_n(px.data() + static_cast<size_t>(y) * size.width() * 4, size.width() * 4,
                  img.scanLine(y));
    return img;
  } catch (const std::exception& e) {
    if (error) *error = QString::fromUtf8(e.what());
    return {};
  }
}

QSize exportSizeFor(int rows, int cols, int pixelsPerCell) {
  auto side = [&](int cells) {
    return static_cast<int>(
        std::clamp<long long>(static_cast<long long>(cells) * pixelsPerCell, 256, 4096));
  };
  return QSize(side(cols), side(rows));
}

bool exportHeatmapPng(const HeatmapMatrix& matrix, const HeatmapStyle& style, const QString& path,
                      QString* error) {
  const QImage img =
      renderHeatmapImage(matrix, style, exportSizeFor(matrix.rows, matrix.cols), nullptr, error);
  if (img.isNull()) return false;
  if (!img.save(path, "PNG")) {
    if (error) *error = QStringLiteral("could not write %1").arg(path);
    return false;
  }
  return true;
}

}  // namespace ll::vis
