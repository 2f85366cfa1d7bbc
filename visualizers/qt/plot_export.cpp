#include "visualizers/qt/plot_export.h"

#include <qcustomplot.h>
#include <QFileInfo>
#include <QSvgGenerator>

namespace ll::vis {

bool figureFormatFromPath(const QString& path, FigureFormat* format) {
  const QString s = QFileInfo(path).suffix().toLower();
  if (s == QLatin1String("png"))
    *format = FigureFormat::Png;
  else if (s == QLatin1String("pdf"))
    *format = FigureFormat::Pdf;
  else if (s == QLatin1String("svg"))
    *format = FigureFormat::Svg;
  else
    return false;
  return true;
}

bool exportPlot(QCustomPlot* plot, const QString& path, FigureFormat format, double scale,
                QString* error) {
  const int w = plot->width() > 0 ? plot->width() : 640;
  const int h = plot->height() > 0 ? plot->height() : 400;
  bool ok = false;
  switch (format) {
    case FigureFormat::Png:
      ok = plot->savePng(path, w, h, scale);
      break;
    case FigureFormat::Pdf:
      ok = plot->savePdf(path, w, h);
      break;
    case FigureFormat::Svg: {
      QSvgGenerator gen;
      gen.setFileName(path);
      gen.setSize(QSize(w, h));
      gen.setViewBox(QRect(0, 0, w, h));
      gen.setTitle(QStringLiteral("LayerLens figure"));
      QCPPainter painter;
      if (painter.begin(&gen)) {
        plot->toPainter(&painter, w, h);
        ok = painter.end();
      }
      ok = ok && QFileInfo(path).size() > 0;
      break;
    }
  }
  if (!ok && error) *error = QStringLiteral("could not write figure %1").arg(path);
  return ok;
}

}  // namespace ll::vis
