#include "visualizers/qt/token_axis.h"

#include <QFontMetrics>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace ll::vis {

TokenAxis::TokenAxis(Edge edge, QWidget* parent) : QWidget(parent), m_edge(edge) {
  QFont f = font();
  f.setPointSizeF(std::max(6.0, f.pointSizeF() * 0.85));
  setFont(f);
  if (edge == Edge::Top)
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  else
    setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Expanding);
}

QSize TokenAxis::sizeHint() const {
  return m_edge == Edge::Top ? QSize(100, 64) : QSize(84, 100);
}

void TokenAxis::setLabels(const QStringList& labels) {
  m_labels = labels;
  update();
}

void TokenAxis::setMapping(double origin, double cellsPerPixel, int offsetPx) {
  m_origin = origin;
  m_cellsPerPixel = cellsPerPixel > 0 ? cellsPerPixel : 1.0;
  m_offset = offsetPx;
  update();
}

int TokenAxis::labelStride(double pixelsPerCell, int minPixelsPerLabel) {
  if (pixelsPerCell <= 0) return 1 << 30;
  for (long long decade = 1; decade < (1LL << 40); decade *= 10)
    for (int m : {1, 2, 5})
      if (decade * m * pixelsPerCell >= minPixelsPerLabel)
        return static_cast<int>(std::min<long long>(decade * m, 1 << 30));
  return 1 << 30;
}

void TokenAxis::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().window());
  if (m_labels.isEmpty()) return;
  const QFontMetrics fm(font());
  const double ppc = 1.0 / m_cellsPerPixel;
  const int stride = labelStride(ppc, fm.height() + 2);
  const int length = m_edge == Edge::Top ? width() : height();
  const int n = static_cast<int>(m_labels.size());
  int first = std::max(0, static_cast<int>(std::floor(m_origin)));
  first = (first / stride) * stride;
  const int last =
      std::min(n - 1, static_cast<int>(std::ceil(m_origin + length * m_cellsPerPixel)));
  p.setPen(palette().color(QPalette::WindowText));
  for (int i = first; i <= last; i += stride) {
    const double centre = (i + 0.5 - m_origin) * ppc + m_offset;
    if (centre < 0 || centre > length) continue;
    QString text = m_labels[i];
    text.replace('\n', QStringLiteral("\\n"));
    if (m_edge == Edge::Left) {
      const QString s = fm.elidedText(text, Qt::ElideRight, width() - 6);
      p.drawText(QRectF(0, centre - fm.height() / 2.0, width() - 4, fm.height()),
                 Qt::AlignRight | Qt::AlignVCenter, s);
    } else {
      const QString s = fm.elidedText(text, Qt::ElideRight, height() - 6);
      p.save();
      p.translate(centre, height() - 2);
      p.rotate(-90);
      p.drawText(QRectF(0, -fm.height() / 2.0, height() - 4, fm.height()),
                 Qt::AlignLeft | Qt::AlignVCenter, s);
      p.restore();
    }
  }
}

}  // namespace ll::vis
