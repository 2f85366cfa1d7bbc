// LensGridView: virtualised QPainter grid with row / column labels, level of detail for text and
// per-pixel averaging, selection frames and hover / click signals.
#include "visualizers/qt/lens_grid_view.h"

#include <QFontMetrics>
#include <QImage>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace ll::vis {

namespace {

constexpr double kMinCellW = 0.05, kMaxCellW = 240.0;
constexpr double kMinCellH = 6.0, kMaxCellH = 48.0;

// Labels on dark cells are white, on light cells black (perceived luminance).
QColor textOn(const QColor& c) {
  const double y = 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue();
  return y < 140.0 ? QColor(Qt::white) : QColor(Qt::black);
}

}  // namespace

LensGridView::LensGridView(QWidget* parent) : QAbstractScrollArea(parent) {
  viewport()->setMouseTracking(true);
  setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  setVerticalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  setMinimumSize(160, 120);
}

void LensGridView::setData(LensGridViewData data) {
  m_data = std::move(data);
  QFont bold = font();  // the selected rows' labels are bold
  bold.setBold(true);
  const QFontMetrics fm(bold);
  m_rowLabelWidth = 8;
  for (const QString& l : m_data.rowLabels)
    m_rowLabelWidth = std::max(m_rowLabelWidth, fm.horizontalAdvance(l) + 10);
  m_colLabelHeight = 2 * fm.height() + 6;
  updateScrollBars();
  viewport()->update();
}

void LensGridView::clear() {
  setData({});
  m_markCol = -1;
  m_markRows.clear();
}

void LensGridView::setMarkers(int col, std::vector<int> rows) {
  m_markCol = col;
  m_markRows = std::move(rows);
  viewport()->update();
}

void LensGridView::setCellSize(QSizeF size) {
  m_cell = QSizeF(std::clamp(size.width(), kMinCellW, kMaxCellW),
                  std::clamp(size.height(), kMinCellH, kMaxCellH));
  updateScrollBars();
  viewport()->update();
}

void LensGridView::ensureColumnVisible(int col) {
  if (col < 0 || col >= m_data.cols) return;
  const QRect area = gridArea();
  const int x0 = int(std::floor(col * m_cell.width())),
            x1 = int(std::ceil((col + 1) * m_cell.width()));
  QScrollBar* h = horizontalScrollBar();
  if (x0 < h->value())
    h->setValue(x0);
  else if (x1 > h->value() + area.width())
    h->setValue(x1 - area.width());
}

QRect LensGridView::gridArea() const {
  const QRect r = viewport()->rect();
  return r.adjusted(m_rowLabelWidth, m_colLabelHeight, 0, 0);
}

double LensGridView::colX(int col) const {
  return gridArea().left() + col * m_cell.width() - horizontalScrollBar()->value();
}

double LensGridView::rowY(int row) const {
  return gridArea().top() + row * m_cell.height() - verticalScrollBar()->value();
}

void LensGridView::updateScrollBars() {
  const QRect area = gridArea();
  const int w = int(std::ceil(m_data.cols * m_cell.width()));
  const int h = int(std::ceil(m_data.rows * m_cell.height()));
  horizontalScrollBar()->setRange(0, std::max(0, w - area.width()));
  horizontalScrollBar()->setPageStep(std::max(1, area.width()));
  horizontalScrollBar()->setSingleStep(std::max(1, int(m_cell.width())));
  verticalScrollBar()->setRange(0, std::max(0, h - area.height()));
  verticalScrollBar()->setPageStep(std::max(1, area.height()));
  verticalScrollBar()->setSingleStep(std::max(1, int(m_cell.height())));
}

QPoint LensGridView::cellAt(QPoint pos) const {
  const QRect area = gridArea();
  if (isEmpty() || !area.contains(pos)) return {-1, -1};
  const int c = int(std::floor((pos.x() - colX(0)) / m_cell.width()));
  const int r = int(std::floor((pos.y() - rowY(0)) / m_cell.height()));
  if (c < 0 || c >= m_data.cols || r < 0 || r >= m_data.rows) return {-1, -1};
  return {c, r};
}

QRect LensGridView::cellRect(int row, int col) const {
  const int x0 = int(std::round(colX(col))), x1 = int(std::round(colX(col + 1)));
  const int y0 = int(std::round(rowY(row))), y1 = int(std::round(rowY(row + 1)));
  return QRect(x0, y0, std::max(1, x1 - x0), std::max(1, y1 - y0));
}

QColor LensGridView::colorOf(float v) const {
  if (!std::isfinite(v)) return palette().color(QPalette::Base);
  const float span = m_data.hi > m_data.lo ? m_data.hi - m_data.lo : 1.0f;
  const int i = std::clamp(int(std::lround((v - m_data.lo) / span * 255.0f)), 0, 255);
  const auto& lut = colormapLut(m_data.colormap);
  return QColor(lut[size_t(i) * 4], lut[size_t(i) * 4 + 1], lut[size_t(i) * 4 + 2]);
}

void LensGridView::paintCells(QPainter& p, const QRect&, int c0, int c1, int r0, int r1) {
  for (int r = r0; r < r1; ++r)
    for (int c = c0; c < c1; ++c)
      p.fillRect(cellRect(r, c), colorOf(m_data.values[size_t(r) * m_data.cols + c]));
}

// Cells narrower than a pixel: each pixel column shows the mean of the columns it covers.
void LensGridView::paintAggregated(QPainter& p, const QRect& area, int r0, int r1) {
  const int width = area.width(), nRows = r1 - r0;
  if (width <= 0 || nRows <= 0) return;
  QImage img(width, nRows, QImage::Format_RGB32);
  img.fill(palette().color(QPalette::Base));
  const double x0 = horizontalScrollBar()->value();
  for (int x = 0; x < width; ++x) {
    const int a = int(std::floor((x0 + x) / m_cell.width()));
    const int b =
        std::min(m_data.cols, std::max(a + 1, int(std::floor((x0 + x + 1) / m_cell.width()))));
    if (a >= m_data.cols) break;
    for (int r = r0; r < r1; ++r) {
      double sum = 0.0;
      int n = 0;
      for (int c = a; c < b; ++c) {
        const float v = m_data.values[size_t(r) * m_data.cols + c];
        if (std::isfinite(v)) sum += v, ++n;
      }
      img.setPixelColor(x, r - r0, n ? colorOf(float(sum / n)) : palette().color(QPalette::Base));
    }
  }
  p.drawImage(QRectF(area.left(), rowY(r0), width, nRows * m_cell.height()), img);
}

void LensGridView::paintLabels(QPainter& p, const QRect& area, int c0, int c1, int r0, int r1) {
  const QFontMetrics fm(font());
  const QColor fg = palette().color(QPalette::Text);
  // Row labels (left margin) and column labels (index and token, top margin).
  p.setClipRect(QRect(0, area.top(), m_rowLabelWidth, area.height()));
  const int rowStep = std::max(1, int(std::ceil(fm.height() / m_cell.height())));
  for (int r = r0; r < r1; ++r) {
    if (r % rowStep) continue;
    const bool marked = std::find(m_markRows.begin(), m_markRows.end(), r) != m_markRows.end();
    QFont f = font();
    f.setBold(marked);
    p.setFont(f);
    p.setPen(fg);
    p.drawText(QRectF(2, rowY(r), m_rowLabelWidth - 6, m_cell.height()),
               Qt::AlignRight | Qt::AlignVCenter | Qt::TextSingleLine, m_data.rowLabels.value(r));
  }
  p.setClipRect(QRect(area.left(), 0, area.width(), m_colLabelHeight));
  const int minSpacing = fm.horizontalAdvance(QStringLiteral("00000"));
  const int colStep = std::max(1, int(std::ceil(minSpacing / m_cell.width())));
  const bool tokenText = m_cell.width() >= fm.horizontalAdvance(QStringLiteral("MM"));
  for (int c = (c0 / colStep) * colStep; c < c1; c += colStep) {
    QFont f = font();
    f.setBold(c == m_markCol);
    p.setFont(f);
    p.setPen(fg);
    const QString label = m_data.colLabels.value(c);
    const int sp = label.indexOf(QLatin1Char(' '));
    const QString index = sp < 0 ? label : label.left(sp),
                  token = sp < 0 ? QString() : label.mid(sp + 1);
    const double w = std::max(m_cell.width() * colStep, double(minSpacing));
    // One label per column: centred over it; sparser labels: at their column's left edge.
    const QRectF top(colX(c), 2, colStep == 1 ? m_cell.width() : w, fm.height());
    p.drawText(
        top,
        (colStep == 1 ? Qt::AlignHCenter : Qt::AlignLeft) | Qt::AlignVCenter | Qt::TextSingleLine,
        index);
    if (tokenText)
      p.drawText(QRectF(colX(c), 2 + fm.height(), m_cell.width(), fm.height()),
                 Qt::AlignHCenter | Qt::AlignVCenter | Qt::TextSingleLine,
                 fm.elidedText(token, Qt::ElideRight, int(m_cell.width()) - 2));
  }
  p.setFont(font());
  // Cell labels where a few characters fit: QPainter::drawText takes plain text ("<s>" stays).
  p.setClipRect(area);
  if (m_data.cellText.size() != m_data.rows * m_data.cols) return;
  if (m_cell.width() < fm.horizontalAdvance(QStringLiteral("MM")) + 4 ||
      m_cell.height() < fm.height())
    return;
  for (int r = r0; r < r1; ++r)
    for (int c = c0; c < c1; ++c) {
      const QRect cell = cellRect(r, c);
      const QString text =
          fm.elidedText(m_data.cellText[r * m_data.cols + c], Qt::ElideRight, cell.width() - 4);
      if (text.isEmpty()) continue;
      p.setPen(textOn(colorOf(m_data.values[size_t(r) * m_data.cols + c])));
      p.drawText(cell, Qt::AlignCenter | Qt::TextSingleLine, text);
      ++m_labelsDrawn;
    }
}

void LensGridView::paintMarkers(QPainter& p, const QRect& area) {
  p.setClipRect(area);
  p.setBrush(Qt::NoBrush);
  const QColor hl = palette().color(QPalette::Highlight);
  const double top = rowY(0), bottom = rowY(m_data.rows), left = colX(0), right = colX(m_data.cols);
  for (int r : m_markRows) {
    if (r < 0 || r >= m_data.rows) continue;
    p.setPen(QPen(hl, 2));
    p.drawRect(QRectF(left, rowY(r), right - left, m_cell.height()).adjusted(1, 1, -1, -1));
  }
  if (m_markCol >= 0 && m_markCol < m_data.cols) {
    const QRectF col(colX(m_markCol), top, std::max(2.0, m_cell.width()), bottom - top);
    p.setPen(QPen(palette().color(QPalette::Text), 3));
    p.drawRect(col.adjusted(1, 1, -1, -1));
    p.setPen(QPen(hl, 1));
    p.drawRect(col.adjusted(1, 1, -1, -1));
    for (int r : m_markRows)  // the selected cell: a thicker frame
      if (r >= 0 && r < m_data.rows) {
        p.setPen(QPen(palette().color(QPalette::Text), 3));
        p.drawRect(QRectF(cellRect(r, m_markCol)).adjusted(1.5, 1.5, -1.5, -1.5));
      }
  }
}

void LensGridView::paintEvent(QPaintEvent*) {
  QPainter p(viewport());
  p.fillRect(viewport()->rect(), palette().color(QPalette::Base));
  m_labelsDrawn = 0;
  m_aggregated = false;
  if (isEmpty()) return;
  const QRect area = gridArea();
  const int hs = horizontalScrollBar()->value(), vs = verticalScrollBar()->value();
  const int c0 = std::clamp(int(std::floor(hs / m_cell.width())), 0, m_data.cols);
  const int c1 =
      std::clamp(int(std::ceil((hs + area.width()) / m_cell.width())) + 1, c0, m_data.cols);
  const int r0 = std::clamp(int(std::floor(vs / m_cell.height())), 0, m_data.rows);
  const int r1 =
      std::clamp(int(std::ceil((vs + area.height()) / m_cell.height())) + 1, r0, m_data.rows);
  p.save();
  p.setClipRect(area);
  if (m_cell.width() < 1.0) {
    m_aggregated = true;
    paintAggregated(p, area, r0, r1);
  } else {
    paintCells(p, area, c0, c1, r0, r1);
  }
  p.restore();
  paintLabels(p, area, c0, c1, r0, r1);
  paintMarkers(p, area);
}

void LensGridView::resizeEvent(QResizeEvent* e) {
  QAbstractScrollArea::resizeEvent(e);
  updateScrollBars();
}

void LensGridView::scrollContentsBy(int, int) {
  viewport()->update();
}

void LensGridView::mouseMoveEvent(QMouseEvent* e) {
  const QPoint c = cellAt(e->position().toPoint());
  if (c.x() < 0)
    emit hoverLeft();
  else
    emit cellHovered(c.y(), c.x(), e->globalPosition().toPoint());
}

void LensGridView::mousePressEvent(QMouseEvent* e) {
  const QPoint c = cellAt(e->position().toPoint());
  if (e->button() == Qt::LeftButton && c.x() >= 0) emit cellClicked(c.y(), c.x());
}

void LensGridView::leaveEvent(QEvent* e) {
  QAbstractScrollArea::leaveEvent(e);
  emit hoverLeft();
}

void LensGridView::wheelEvent(QWheelEvent* e) {
  if (!(e->modifiers() & Qt::ControlModifier)) return QAbstractScrollArea::wheelEvent(e);
  // Zoom about the cursor: the column under it stays under it.
  const double f = std::pow(1.25, e->angleDelta().y() / 120.0);
  const double cursor = e->position().x() - gridArea().left();
  const double content = (horizontalScrollBar()->value() + cursor) / m_cell.width();
  setCellSize(QSizeF(m_cell.width() * f, m_cell.height() * std::sqrt(f)));
  horizontalScrollBar()->setValue(int(std::lround(content * m_cell.width() - cursor)));
  e->accept();
}

}  // namespace ll::vis
