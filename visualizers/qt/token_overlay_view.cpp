#include "visualizers/qt/token_overlay_view.h"

#include "visualizers/colormap.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace ll::vis {
namespace {

constexpr int kPad = 3;
constexpr int kGap = 3;
constexpr int kLegendLine = 22;
constexpr int kLegendHeight = 2 * kLegendLine;  // score ramp, then kept / dropped

QColor scoreColor(float t) {
  const auto& lut = colormapLut(Colormap::Viridis);
  const int i = std::clamp(static_cast<int>(std::lround(t * 255.0f)), 0, 255);
  return QColor(lut[i * 4], lut[i * 4 + 1], lut[i * 4 + 2]);
}

bool darkColor(const QColor& c) {
  return 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue() < 140;
}

}  // namespace

TokenOverlayView::TokenOverlayView(QWidget* parent) : QWidget(parent) {
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
}

QString TokenOverlayView::label(int i) const {
  QString s = QString::fromStdString(m_overlay.items[i].text);
  s.replace('\n', QStringLiteral("\u21b5"));
  s.replace('\t', QStringLiteral("\u2192"));
  return s.isEmpty() ? QStringLiteral("\u2205") : s;
}

int TokenOverlayView::layout(int width, QVector<QRect>* rects) const {
  const QFontMetrics fm(font());
  const int h = fm.height() + 2 * kPad;
  int x = 0, y = kLegendHeight + kGap;
  rects->clear();
  for (int i = 0; i < static_cast<int>(m_overlay.items.size()); ++i) {
    // +2: elidedText elides at an exact fit on some fonts.
    const int w = std::min(width, fm.horizontalAdvance(label(i)) + 2 * kPad + 2);
    if (x > 0 && x + w > width) {
      x = 0;
      y += h + kGap;
    }
    rects->push_back(QRect(x, y, w, h));
    x += w + kGap;
  }
  return y + h + kGap;
}

int TokenOverlayView::heightForWidth(int width) const {
  QVector<QRect> r;
  return layout(width, &r);
}

QSize TokenOverlayView::sizeHint() const {
  return QSize(400, heightForWidth(400));
}

void TokenOverlayView::setOverlay(const TokenOverlay& overlay) {
  m_overlay = overlay;
  layout(width(), &m_rects);
  updateGeometry();
  update();
}

void TokenOverlayView::resizeEvent(QResizeEvent*) {
  layout(width(), &m_rects);
}

int TokenOverlayView::tokenAt(QPoint pos) const {
  for (int i = 0; i < m_rects.size(); ++i)
    if (m_rects[i].contains(pos)) return i;
  return -1;
}

QRect TokenOverlayView::tokenRect(int index) const {
  return index >= 0 && index < m_rects.size() ? m_rects[index] : QRect();
}

void TokenOverlayView::mouseReleaseEvent(QMouseEvent* e) {
  const int i = tokenAt(e->position().toPoint());
  if (i >= 0) emit tokenClicked(i);
}

void TokenOverlayView::paintEvent(QPaintEvent*) {
  layout(width(), &m_rects);  // the font may have changed since (style polish)
  QPainter p(this);
  p.fillRect(rect(), palette().base());
  const QFontMetrics fm(font());
  // Legend, line 1: score ramp; line 2: kept, dropped.
  int x = 0;
  const int lh = kLegendLine - 6;
  p.setPen(palette().color(QPalette::Text));
  const QString scoreName = QString::fromStdString(m_overlay.scoreName);
  p.drawText(QRect(x, 0, fm.horizontalAdvance(scoreName) + 4, kLegendLine), Qt::AlignVCenter,
             scoreName);
  x += fm.horizontalAdvance(scoreName) + 8;
  float lo = 0, hi = 1;
  m_overlay.scoreRange(&lo, &hi);
  for (int i = 0; i < 64; ++i) p.fillRect(QRect(x + i, 3, 1, lh), scoreColor(i / 63.0f));
  p.drawText(QRect(x + 68, 0, 200, kLegendLine), Qt::AlignVCenter,
             QStringLiteral("%1 .. %2").arg(double(lo), 0, 'g', 3).arg(double(hi), 0, 'g', 3));
  x = 0;
  const int y2 = kLegendLine;
  p.setPen(QPen(palette().color(QPalette::Text), 2));
  p.drawRect(QRect(x + 1, y2 + 4, lh, lh - 2));
  p.drawText(QRect(x + lh + 6, y2, 200, kLegendLine), Qt::AlignVCenter,
             tr("kept (%1)").arg(m_overlay.keptCount()));
  x += lh + 16 + fm.horizontalAdvance(tr("kept (000)"));
  p.fillRect(QRect(x, y2 + 4, lh, lh - 2), QColor(215, 215, 218));
  p.setPen(palette().color(QPalette::Text));
  p.drawText(QRect(x + lh + 4, y2, 200, kLegendLine), Qt::AlignVCenter,
             tr("dropped (%1)").arg(m_overlay.droppedCount()));

  for (int i = 0; i < m_rects.size(); ++i) {
    const auto& it = m_overlay.items[i];
    const QRect r = m_rects[i];
    QColor bg = it.state == TokenState::Dropped
                    ? QColor(215, 215, 218)
                    : scoreColor(std::isfinite(it.score) ? (it.score - lo) / (hi - lo) : 0.0f);
    p.fillRect(r, bg);
    if (it.state == TokenState::Kept) {
      p.setPen(QPen(palette().color(QPalette::Text), 2));
      p.drawRect(r.adjusted(1, 1, -1, -1));
    }
    p.setPen(it.state == TokenState::Dropped ? QColor(110, 110, 115)
                                             : (darkColor(bg) ? Qt::white : Qt::black));
    QFont f = font();
    f.setStrikeOut(it.state == TokenState::Dropped);
    p.setFont(f);
    p.drawText(r.adjusted(kPad, 0, -kPad, 0), Qt::AlignVCenter | Qt::AlignLeft,
               fm.elidedText(label(i), Qt::ElideRight, r.width() - 2 * kPad));
    p.setFont(font());
  }
}

}  // namespace ll::vis
