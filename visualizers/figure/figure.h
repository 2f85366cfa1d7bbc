// Publication figures: one heatmap (rendered through the offscreen Vulkan path, CPU fallback)
// embedded at full resolution and framed by vector text: title, axis titles, token labels, a
// colour bar with ticks and a caption line. Written as PNG (1x-4x), SVG or PDF.
#pragma once

#include <QImage>
#include <QSizeF>
#include <QString>
#include <QStringList>

#include "visualizers/heatmap_types.h"

class QPainter;

namespace ll::vis {

struct FigureSpec {
  QString title;
  QString caption;  // e.g. "model demo.gguf · prompt 3f2a… · layer 1 head 0 · attention"
  HeatmapMatrix matrix;
  HeatmapStyle style;
  QStringList rowLabels;  // one per row (or per tile row when tileRows > 1); may be empty
  QStringList colLabels;  // one per column (or per tile column)
  QString xTitle, yTitle;
  QString colorbarTitle;
  // Head grids: the matrix is a grid of tiles separated by NaN gaps; labels name the tiles.
  int tileRows = 1, tileCols = 1;
  // Optional text written into each cell (row-major rows*cols), e.g. the logit lens's top token;
  // drawn only where a cell is large enough to read it.
  QStringList cellText;
};

enum class FigureFileFormat { Png, Svg, Pdf };
bool figureFileFormat(const QString& path, FigureFileFormat* format);

// The heatmap as an image of at least one pixel per cell (Vulkan offscreen; CPU colouring with
// the same colormap and range when no Vulkan device is available, noted in *note).
QImage renderFigureHeatmap(const FigureSpec& spec, QString* note = nullptr);

// Logical size of the figure (points for PDF/SVG, pixels at scale 1 for PNG).
QSizeF figureSize(const FigureSpec& spec);
void paintFigure(QPainter& p, const FigureSpec& spec, const QImage& heatmap);

// Format from the suffix. PNG scale in [1, 4]. Returns false and sets *error on failure.
bool exportFigure(const FigureSpec& spec, const QString& path, double scale = 2.0,
                  QString* error = nullptr, QString* note = nullptr);

}  // namespace ll::vis
