#include "visualizers/qt/head_grid_axis.h"

#include "visualizers/qt/token_axis.h"

#include <QFontMetrics>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace ll::vis {

HeadGridAxis::HeadGridAxis(Edge edge, const QString& prefix, QWidget* parent)
    : QWidget(parent), m_edge(edge), m_prefix(prefix) {
  QFont f = font();
  f.setPointSizeF(std::max(6.0, f.pointSizeF() * 0.85));
  setFont(f);
  if (edge == Edge::Top)
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  else
    setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Expanding);
}

QSize HeadGridAxis::sizeHint() const {
  const QFontMetrics fm(font());
  if (m_edge == Edge::Top) return {100, fm.height() + 4};
  return {fm.horizontalAdvance(m_prefix + QStringLiteral("000")) + 6, 100};
}

void HeadGridAxis::setBands(int count, int pitch, int side) {
  m_count = std::max(0, count);
  m_pitch = std::max(1, pitch);
  m_side = std::clamp(side, 1, m_pitch);
  update();
}

void HeadGridAxis::setMapping(double origin, double cellsPerPixel) {
  m_origin = origin;
  m_cellsPerPixel = cellsPerPixel > 0 ? cellsPerPixel : 1.0;
  update();
}

QList<QPair<QString, double>> HeadGridAxis::visibleLabels() const {
  QList<QPair<QString, double>> out;
  if (m_count == 0) return out;
  const QFontMetrics fm(font());
  const double ppb = m_pitch / m_cellsPerPixel;  // pixels per band
  const int room = m_edge == Edge::Top
                       ? fm.horizontalAdvance(m_prefix + QString::number(m_count - 1)) + 4
                       : fm.height() + 2;
  const int stride = TokenAxis::labelStride(ppb, room);
  const int length = m_edge == Edge::Top ? width() : height();
  for (int i = 0; i < m_count; i += stride) {
    const double centre = (i * m_pitch + m_side / 2.0 - m_origin) / m_cellsPerPixel;
    if (centre < 0 || centre > length) continue;
    out.append({m_prefix + QString::number(i), centre});
  }
  return out;
}

void HeadGridAxis::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().window());
  p.setPen(palette().color(QPalette::WindowText));
  const QFontMetrics fm(font());
  for (const auto& [text, centre] : visibleLabels()) {
    if (m_edge == Edge::Left)
      p.drawText(QRectF(0, centre - fm.height() / 2.0, width() - 4, fm.height()),
                 Qt::AlignRight | Qt::AlignVCenter, text);
    else
      p.drawText(QRectF(centre - 40, 0, 80, height()), Qt::AlignHCenter | Qt::AlignBottom, text);
  }
}

}  // namespace ll::vis
