// Figure export of QCustomPlot plots: PNG (at a scale), PDF and SVG (SVG through QSvgGenerator
// + QCPPainter, since QCustomPlot has no SVG writer of its own).
#pragma once

#include <QString>

class QCustomPlot;

namespace ll::vis {

enum class FigureFormat { Png, Pdf, Svg };

// Format from the file suffix (.png, .pdf, .svg); false when unknown.
bool figureFormatFromPath(const QString& path, FigureFormat* format);

// Writes the plot at its current size (PNG scaled by `scale`). Returns false and sets *error
// when the file cannot be written.
bool exportPlot(QCustomPlot* plot, const QString& path, FigureFormat format, double scale = 2.0,
                QString* error = nullptr);

}  // namespace ll::vis
