#include "visualizers/qt/color_bar.h"

#include <QFontMetrics>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace ll::vis {
namespace {

QString number(double v) {
  return QString::number(v, 'g', 3);
}

}  // namespace

ColorBar::ColorBar(QWidget* parent) : QWidget(parent) {
  QFont f = font();
  f.setPointSizeF(std::max(6.0, f.pointSizeF() * 0.85));
  setFont(f);
  setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Expanding);
}

void ColorBar::setScale(Colormap colormap, Normalization normalization, ResolvedRange range,
                        bool hasData) {
  m_colormap = colormap;
  m_norm = normalization;
  m_range = range;
  m_hasData = hasData;
  setToolTip(tr("Colour scale: %1, %2")
                 .arg(kindText(), QString::fromUtf8(colormapName(colormap).data(),
                                                    colormapName(colormap).size())));
  update();
}

QString ColorBar::kindText() const {
  switch (m_norm) {
    case Normalization::Log:
      return tr("log");
    case Normalization::PerRow:
      return tr("per row");
    default:
      return tr("linear");
  }
}

// Per row, every row spans the whole colormap on its own min..max: there is no one number.
QString ColorBar::highText() const {
  if (!m_hasData) return {};
  return m_norm == Normalization::PerRow ? tr("row max") : number(m_range.hi);
}

QString ColorBar::lowText() const {
  if (!m_hasData) return {};
  return m_norm == Normalization::PerRow ? tr("row min") : number(m_range.lo);
}

// The value at the gradient's middle: the geometric mean on a log scale.
QString ColorBar::midText() const {
  if (!m_hasData || m_norm == Normalization::PerRow) return {};
  if (m_norm == Normalization::Log) return number(std::sqrt(double(m_range.lo) * m_range.hi));
  return number((double(m_range.lo) + m_range.hi) / 2.0);
}

QSize ColorBar::sizeHint() const {
  const QFontMetrics fm(font());
  const int text =
      std::max({fm.horizontalAdvance(QStringLiteral("-0.000e-00")),
                fm.horizontalAdvance(tr("row max")), fm.horizontalAdvance(kindText())});
  return {14 + 6 + text + 4, 160};
}

QSize ColorBar::minimumSizeHint() const {
  return {sizeHint().width(), 80};
}

QRect ColorBar::barRect() const {
  const QFontMetrics fm(font());
  // Room above for the kind and half a label; below for half a label.
  const int top = fm.height() + fm.height() / 2 + 4;
  const int bottom = fm.height() / 2 + 2;
  return {4, top, 14, std::max(8, height() - top - bottom)};
}

void ColorBar::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().window());
  const QFontMetrics fm(font());
  const QRect bar = barRect();
  // One line per pixel row, top = high end of the table.
  const ColormapLut& lut = colormapLut(m_colormap);
  for (int y = 0; y < bar.height(); ++y) {
    const double t = bar.height() > 1 ? 1.0 - double(y) / (bar.height() - 1) : 1.0;
    const int i = std::clamp(static_cast<int>(std::lround(t * 255.0)), 0, 255);
    p.setPen(QColor(lut[i * 4], lut[i * 4 + 1], lut[i * 4 + 2]));
    p.drawLine(bar.left(), bar.top() + y, bar.right(), bar.top() + y);
  }
  p.setPen(palette().color(QPalette::WindowText));
  p.drawRect(bar.adjusted(0, 0, -1, -1));
  p.drawText(QRect(0, 0, width(), fm.height() + 2), Qt::AlignLeft | Qt::AlignVCenter, kindText());
  const int x = bar.right() + 4;
  auto label = [&](int y, const QString& text) {
    if (text.isEmpty()) return;
    p.drawLine(bar.right() + 1, y, bar.right() + 3, y);
    p.drawText(QRect(x, y - fm.height() / 2, width() - x, fm.height()),
               Qt::AlignLeft | Qt::AlignVCenter, fm.elidedText(text, Qt::ElideRight, width() - x));
  };
  label(bar.top(), highText());
  label(bar.top() + bar.height() / 2, midText());
  label(bar.bottom(), lowText());
}

}  // namespace ll::vis
