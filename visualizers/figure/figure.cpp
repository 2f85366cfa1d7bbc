// Figure layout and painting (vector text around an embedded heatmap image) and the three writers.
#include "visualizers/figure/figure.h"

#include <QFileInfo>
#include <QFontMetricsF>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSvgGenerator>
#include <algorithm>
#include <cmath>
#include <limits>

#include "visualizers/colormap.h"
#include "visualizers/qt/heatmap_export.h"

namespace ll::vis {

namespace {

constexpr double kMargin = 18.0, kTitleH = 30.0, kCaptionH = 34.0, kBarW = 14.0;
constexpr double kMaxLabelW = 170.0;

struct DataRange {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo, minPos = lo;
};

DataRange dataRange(const HeatmapMatrix& m, const HeatmapStyle& style) {
  DataRange r;
  for (int i = 0; i < m.rows; ++i)
    for (int j = 0; j < m.cols; ++j) {
      if (maskedBlock(style, i, j)) continue;
      const float v = m.at(i, j);
      if (!std::isfinite(v)) continue;
      r.lo = std::min(r.lo, v);
      r.hi = std::max(r.hi, v);
      if (v > 0) r.minPos = std::min(r.minPos, v);
    }
  if (!(r.minPos < std::numeric_limits<float>::infinity())) r.minPos = 0.0f;
  return r;
}

ResolvedRange rangeOf(const FigureSpec& s) {
  const DataRange d = dataRange(s.matrix, s.style);
  return resolveRange(s.style, d.lo, d.hi, d.minPos);
}

float normalise(const HeatmapStyle& st, const ResolvedRange& r, float v) {
  float t;
  if (st.normalization == Normalization::Log)
    t = std::log(std::max(v, r.lo) / r.lo) / std::log(r.hi / r.lo);
  else
    t = (v - r.lo) / (r.hi - r.lo);
  return std::clamp(t, 0.0f, 1.0f);
}

QColor lutColor(const ColormapLut& lut, float t) {
  const int i = std::clamp(int(std::lround(t * 255.0f)), 0, 255);
  return QColor(lut[size_t(i) * 4], lut[size_t(i) * 4 + 1], lut[size_t(i) * 4 + 2]);
}

QColor rgbf(const float* c) {
  return QColor::fromRgbF(c[0], c[1], c[2]);
}

// One pixel per cell, same colours as the shader (used without a Vulkan device).
QImage cpuHeatmap(const FigureSpec& s) {
  const auto& m = s.matrix;
  const auto& lut = colormapLut(s.style.colormap);
  const ResolvedRange r = rangeOf(s);
  QImage img(m.cols, m.rows, QImage::Format_RGB32);
  for (int i = 0; i < m.rows; ++i) {
    float rlo = r.lo, rhi = r.hi;
    if (s.style.normalization == Normalization::PerRow) {
      rlo = std::numeric_limits<float>::infinity();
      rhi = -rlo;
      for (int j = 0; j < m.cols; ++j)
        if (std::isfinite(m.at(i, j)) && !maskedBlock(s.style, i, j)) {
          rlo = std::min(rlo, m.at(i, j));
          rhi = std::max(rhi, m.at(i, j));
        }
      if (!(rhi > rlo)) rhi = rlo + 1.0f;
    }
    for (int j = 0; j < m.cols; ++j) {
      const float v = m.at(i, j);
      QColor c;
      if (maskedBlock(s.style, i, j))
        c = rgbf(s.style.maskRgb);
      else if (!std::isfinite(v))
        c = rgbf(s.style.backgroundRgb);
      else if (s.style.normalization == Normalization::PerRow)
        c = lutColor(lut, std::clamp((v - rlo) / (rhi - rlo), 0.0f, 1.0f));
      else
        c = lutColor(lut, normalise(s.style, r, v));
      img.setPixel(j, i, c.rgb());
    }
  }
  return img;
}

QString tickText(double v) {
  if (v != 0.0 && (std::fabs(v) < 1e-3 || std::fabs(v) >= 1e5)) return QString::number(v, 'e', 1);
  return QString::number(v, 'g', 3);
}

QFont font(double px, bool bold = false);

struct Layout {
  double labelFont = 8.0;
  int rowStep = 1, colStep = 1;  // draw every n-th label
  double rowLabelW = 0, colLabelH = 0;
  QRectF plot, bar;
  QSizeF size;
  double cellW = 1, cellH = 1;
};

// Labels per axis: one per cell, or one per tile.
int labelUnits(int cells, int tiles) {
  return tiles > 1 ? tiles : cells;
}

Layout layoutOf(const FigureSpec& s) {
  Layout L;
  const int rows = std::max(1, s.matrix.rows), cols = std::max(1, s.matrix.cols);
  double cw = std::clamp(720.0 / cols, 1.0, 32.0), ch = std::clamp(720.0 / rows, 1.0, 32.0);
  if (rows > 4 && cols > 4) cw = ch = std::min(cw, ch);  // square cells except for strips
  L.cellW = cw;
  L.cellH = ch;
  const double unitW = cw * cols / labelUnits(cols, s.tileCols);
  const double unitH = ch * rows / labelUnits(rows, s.tileRows);
  L.labelFont = std::clamp(std::min(unitH, unitW) * 0.8, 7.0, 12.0);
  L.rowStep = std::max(1, int(std::ceil(7.5 / unitH)));
  L.colStep = std::max(1, int(std::ceil(7.5 / unitW)));
  const QFontMetricsF fm(font(L.labelFont));
  for (const auto& t : s.rowLabels) L.rowLabelW = std::max(L.rowLabelW, fm.horizontalAdvance(t));
  for (const auto& t : s.colLabels) L.colLabelH = std::max(L.colLabelH, fm.horizontalAdvance(t));
  L.rowLabelW = std::min(L.rowLabelW + 6, kMaxLabelW);
  L.colLabelH = std::min(L.colLabelH + 6, kMaxLabelW);
  const double yTitleW = s.yTitle.isEmpty() ? 0 : 18;
  const double xTitleH = s.xTitle.isEmpty() ? 0 : 18;
  const double plotW = cw * cols, plotH = ch * rows;
  const double left = kMargin + yTitleW + L.rowLabelW;
  const double top = kMargin + (s.title.isEmpty() ? 0 : kTitleH);
  L.plot = QRectF(left, top, plotW, plotH);
  const double barH = std::max(plotH, 120.0);
  L.bar = QRectF(L.plot.right() + 16, top, kBarW, barH);
  const double right = L.bar.right() + 60 + (s.colorbarTitle.isEmpty() ? 0 : 18) + kMargin;
  const double bottom = top + std::max(plotH + L.colLabelH + xTitleH, barH) + 8 + kCaptionH;
  const double titleW = QFontMetricsF(font(18, true)).horizontalAdvance(s.title) + 2 * kMargin;
  // Whole units, so PNG pixel sizes are exactly size * scale.
  L.size = QSizeF(std::ceil(std::max({right, 420.0, titleW})), std::ceil(bottom + kMargin));
  return L;
}

// Pixel sizes (1 px = 1 pt in PDF/SVG at 72 dpi) so metrics do not depend on a device's DPI.
QFont font(double px, bool bold) {
  QFont f("DejaVu Sans");
  f.setPixelSize(std::max(1, int(std::lround(px))));
  f.setBold(bold);
  return f;
}

}  // namespace

bool figureFileFormat(const QString& path, FigureFileFormat* format) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "png")
    *format = FigureFileFormat::Png;
  else if (suffix == "svg")
    *format = FigureFileFormat::Svg;
  else if (suffix == "pdf")
    *format = FigureFileFormat::Pdf;
  else
    return false;
  return true;
}

QImage renderFigureHeatmap(const FigureSpec& spec, QString* note) {
  const auto& m = spec.matrix;
  if (m.rows <= 0 || m.cols <= 0 || m.values.size() != size_t(m.rows) * size_t(m.cols)) return {};
  // At least one pixel per cell (up to the 4096-pixel limit of the offscreen path); large maps
  // are reduced through the LOD pyramid by the renderer.
  QSize size = exportSizeFor(m.rows, m.cols, 8);
  size = size.expandedTo(QSize(std::min(m.cols, 4096), std::min(m.rows, 4096)));
  QString error;
  QImage img = renderHeatmapImage(m, spec.style, size, nullptr, &error);
  if (!img.isNull()) return img;
  if (note) *note = "Vulkan unavailable (" + error + "): heatmap coloured on the CPU";
  return cpuHeatmap(spec);
}

QSizeF figureSize(const FigureSpec& spec) {
  return layoutOf(spec).size;
}

void paintFigure(QPainter& p, const FigureSpec& s, const QImage& heatmap) {
  const Layout L = layoutOf(s);
  p.save();
  p.setRenderHint(QPainter::Antialiasing, true);
  p.setRenderHint(QPainter::TextAntialiasing, true);
  p.fillRect(QRectF(QPointF(0, 0), L.size), Qt::white);
  const QColor ink(30, 30, 34), grey(95, 95, 105);

  if (!s.title.isEmpty()) {
    p.setFont(font(18, true));
    p.setPen(ink);
    p.drawText(QRectF(kMargin, kMargin, L.size.width() - 2 * kMargin, kTitleH - 4),
               Qt::AlignLeft | Qt::AlignVCenter, s.title);
  }
  // The heatmap at full resolution; nearest-neighbour so cells stay crisp when scaled up.
  p.setRenderHint(QPainter::SmoothPixmapTransform, false);
  if (!heatmap.isNull()) p.drawImage(L.plot, heatmap);
  p.setPen(QPen(ink, 0.6));
  p.setBrush(Qt::NoBrush);
  p.drawRect(L.plot);

  // Cell annotations (logit lens top tokens)
  const int rows = s.matrix.rows, cols = s.matrix.cols;
  if (s.cellText.size() == rows * cols && L.cellW >= 14 && L.cellH >= 9) {
    const double px = std::clamp(L.cellH * 0.5, 6.0, 11.0);
    p.setFont(font(px));
    const auto& lut = colormapLut(s.style.colormap);
    const ResolvedRange r = rangeOf(s);
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) {
        const QString& t = s.cellText[i * cols + j];
        if (t.isEmpty()) continue;
        const QColor bg = lutColor(lut, normalise(s.style, r, s.matrix.at(i, j)));
        p.setPen(bg.lightnessF() > 0.55 ? Qt::black : Qt::white);
        const QRectF cell(L.plot.left() + j * L.cellW, L.plot.top() + i * L.cellH, L.cellW,
                          L.cellH);
        p.drawText(cell, Qt::AlignCenter,
                   QFontMetricsF(p.font()).elidedText(t, Qt::ElideRight, L.cellW - 2));
      }
  }

  // Token / tile labels
  p.setFont(font(L.labelFont));
  p.setPen(ink);
  const int rowUnits = labelUnits(rows, s.tileRows), colUnits = labelUnits(cols, s.tileCols);
  const double unitH = L.plot.height() / rowUnits, unitW = L.plot.width() / colUnits;
  const QFontMetricsF fm(p.font());
  for (int i = 0; i < std::min<int>(rowUnits, s.rowLabels.size()); i += L.rowStep) {
    const QRectF r(L.plot.left() - L.rowLabelW, L.plot.top() + i * unitH, L.rowLabelW - 4, unitH);
    p.drawText(r, Qt::AlignRight | Qt::AlignVCenter,
               fm.elidedText(s.rowLabels[i], Qt::ElideRight, L.rowLabelW - 4));
  }
  for (int j = 0; j < std::min<int>(colUnits, s.colLabels.size()); j += L.colStep) {
    p.save();
    p.translate(L.plot.left() + (j + 0.5) * unitW, L.plot.bottom() + 4);
    p.rotate(-90);
    // After the rotation x runs upward-negative: text ends at the plot edge, reading upward.
    const QRectF r(-L.colLabelH, -unitW / 2, L.colLabelH - 2, unitW);
    p.drawText(r, Qt::AlignRight | Qt::AlignVCenter,
               fm.elidedText(s.colLabels[j], Qt::ElideRight, L.colLabelH - 4));
    p.restore();
  }
  // Axis titles
  p.setFont(font(12, true));
  if (!s.xTitle.isEmpty())
    p.drawText(QRectF(L.plot.left(), L.plot.bottom() + L.colLabelH + 2, L.plot.width(), 16),
               Qt::AlignHCenter | Qt::AlignTop, s.xTitle);
  if (!s.yTitle.isEmpty()) {
    p.save();
    p.translate(kMargin, L.plot.center().y());
    p.rotate(-90);
    p.drawText(QRectF(-L.plot.height() / 2 - 60, 0, L.plot.height() + 120, 16),
               Qt::AlignHCenter | Qt::AlignTop, s.yTitle);
    p.restore();
  }

  // Colour bar: vector rectangles (one per LUT entry) so it stays sharp in PDF and SVG.
  const auto& lut = colormapLut(s.style.colormap);
  const int steps = 64;
  p.setPen(Qt::NoPen);
  for (int k = 0; k < steps; ++k) {
    const double y0 = L.bar.bottom() - (k + 1) * L.bar.height() / steps;
    p.setBrush(lutColor(lut, (k + 0.5f) / steps));
    p.drawRect(QRectF(L.bar.left(), y0, L.bar.width(), L.bar.height() / steps + 0.3));
  }
  p.setBrush(Qt::NoBrush);
  p.setPen(QPen(ink, 0.6));
  p.drawRect(L.bar);
  p.setFont(font(10));
  const ResolvedRange r = rangeOf(s);
  const bool perRow = s.style.normalization == Normalization::PerRow;
  for (int k = 0; k <= 4; ++k) {
    const double t = k / 4.0;
    double v;
    if (perRow)
      v = t;
    else if (s.style.normalization == Normalization::Log)
      v = r.lo * std::pow(double(r.hi) / r.lo, t);
    else
      v = r.lo + t * (double(r.hi) - r.lo);
    const double y = L.bar.bottom() - t * L.bar.height();
    p.drawLine(QPointF(L.bar.right(), y), QPointF(L.bar.right() + 3, y));
    p.drawText(QRectF(L.bar.right() + 5, y - 7, 55, 14), Qt::AlignLeft | Qt::AlignVCenter,
               tickText(v));
  }
  if (!s.colorbarTitle.isEmpty()) {
    p.save();
    p.translate(L.bar.right() + 62, L.bar.center().y());
    p.rotate(90);
    p.setFont(font(11));
    p.drawText(QRectF(-L.bar.height() / 2 - 40, -14, L.bar.height() + 80, 14), Qt::AlignCenter,
               perRow ? s.colorbarTitle + " (row-normalised)" : s.colorbarTitle);
    p.restore();
  }
  // Caption
  if (!s.caption.isEmpty()) {
    p.setFont(font(10));
    p.setPen(grey);
    p.drawText(QRectF(kMargin, L.size.height() - kMargin - kCaptionH + 6,
                      L.size.width() - 2 * kMargin, kCaptionH),
               Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap, s.caption);
  }
  p.restore();
}

bool exportFigure(const FigureSpec& spec, const QString& path, double scale, QString* error,
                  QString* note) {
  auto fail = [&](const QString& what) {
    if (error) *error = path + ": " + what;
    return false;
  };
  FigureFileFormat fmt;
  if (!figureFileFormat(path, &fmt)) return fail("unknown figure format (use .png, .svg or .pdf)");
  if (spec.matrix.rows <= 0 || spec.matrix.cols <= 0 ||
      spec.matrix.values.size() != size_t(spec.matrix.rows) * size_t(spec.matrix.cols))
    return fail("the figure has no data");
  const QImage heat = renderFigureHeatmap(spec, note);
  const QSizeF size = figureSize(spec);
  if (fmt == FigureFileFormat::Png) {
    if (!(scale >= 1.0 && scale <= 4.0)) return fail("PNG scale must be in [1, 4]");
    QImage img((size * scale).toSize(), QImage::Format_ARGB32_Premultiplied);
    img.fill(Qt::white);
    {
      QPainter p(&img);
      p.scale(scale, scale);
      paintFigure(p, spec, heat);
    }
    img.setDotsPerMeterX(int(std::lround(72.0 * scale / 0.0254)));  // 1 figure unit = 1 pt
    img.setDotsPerMeterY(img.dotsPerMeterX());
    img.setText("Title", spec.title);
    img.setText("Description", spec.caption);
    img.setText("Software", "LayerLens");
    if (!img.save(path, "PNG")) return fail("cannot write the PNG file");
    return true;
  }
  if (fmt == FigureFileFormat::Svg) {
    QSvgGenerator gen;
    gen.setFileName(path);
    gen.setSize(size.toSize());
    gen.setViewBox(QRectF(QPointF(0, 0), size));
    gen.setResolution(72);
    gen.setTitle(spec.title);
    gen.setDescription(spec.caption);
    QPainter p;
    if (!p.begin(&gen)) return fail("cannot write the SVG file");
    paintFigure(p, spec, heat);
    if (!p.end()) return fail("cannot write the SVG file");
    return true;
  }
  QPdfWriter pdf(path);
  pdf.setResolution(72);  // one painter unit = one point
  pdf.setPageSize(QPageSize(size, QPageSize::Point, QString(), QPageSize::ExactMatch));
  pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
  pdf.setTitle(spec.title);
  pdf.setCreator("LayerLens");
  QPainter p;
  if (!p.begin(&pdf)) return fail("cannot write the PDF file");
  paintFigure(p, spec, heat);
  if (!p.end()) return fail("cannot write the PDF file");
  return true;
}

}  // namespace ll::vis
