// A labelled grid of coloured cells drawn with QPainter (the logit-lens grid: rows = layers,
// columns = tokens, each cell labelled with its top-1 token). Text over cells cannot be overlaid
// on the native Vulkan heatmap window, so this view paints itself: only the visible cells, text
// only where it fits, and one averaged colour per pixel when cells are narrower than a pixel.
#pragma once

#include "visualizers/colormap.h"

#include <QAbstractScrollArea>
#include <QSizeF>
#include <QStringList>

#include <vector>

namespace ll::vis {

struct LensGridViewData {
  int rows = 0, cols = 0;
  std::vector<float> values;  // [rows, cols], coloured over [lo, hi]
  float lo = 0.0f, hi = 1.0f;
  Colormap colormap = Colormap::Viridis;
  QStringList cellText;   // [rows * cols] plain text (drawn literally), may be empty
  QStringList rowLabels;  // [rows]
  QStringList colLabels;  // [cols]
};

class LensGridView : public QAbstractScrollArea {
  Q_OBJECT
 public:
  explicit LensGridView(QWidget* parent = nullptr);

  void setData(LensGridViewData data);
  void clear();
  const LensGridViewData& data() const { return m_data; }
  bool isEmpty() const { return m_data.rows <= 0 || m_data.cols <= 0; }

  // The selected column and rows are framed (-1 / empty: none).
  void setMarkers(int col, std::vector<int> rows);
  int markedColumn() const { return m_markCol; }
  const std::vector<int>& markedRows() const { return m_markRows; }

  // Cell size in pixels: zoom (Ctrl+wheel) scales it; widths below 1 aggregate columns.
  void setCellSize(QSizeF size);
  QSizeF cellSize() const { return m_cell; }
  // Scrolls so that the column is visible.
  void ensureColumnVisible(int col);

  // Grid cell under a viewport position ({-1, -1} outside); the cell's rectangle in the viewport.
  QPoint cellAt(QPoint viewportPos) const;  // x = column, y = row
  QRect cellRect(int row, int col) const;

  // What the last paint did (level of detail): cell labels drawn, columns averaged per pixel.
  int labelsDrawn() const { return m_labelsDrawn; }
  bool aggregated() const { return m_aggregated; }

 signals:
  void cellHovered(int row, int col, QPoint globalPos);
  void cellClicked(int row, int col);
  void hoverLeft();

 protected:
  void paintEvent(QPaintEvent* e) override;
  void resizeEvent(QResizeEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;
  void leaveEvent(QEvent* e) override;
  void wheelEvent(QWheelEvent* e) override;
  void scrollContentsBy(int dx, int dy) override;

 private:
  void updateScrollBars();
  QRect gridArea() const;  // the viewport without the row and column label margins
  QColor colorOf(float v) const;
  void paintCells(class QPainter& p, const QRect& area, int c0, int c1, int r0, int r1);
  void paintAggregated(QPainter& p, const QRect& area, int r0, int r1);
  void paintLabels(QPainter& p, const QRect& area, int c0, int c1, int r0, int r1);
  void paintMarkers(QPainter& p, const QRect& area);
  double colX(int col) const;  // viewport x of a column's left edge
  double rowY(int row) const;

  LensGridViewData m_data;
  QSizeF m_cell{44.0, 20.0};
  int m_markCol = -1;
  std::vector<int> m_markRows;
  int m_rowLabelWidth = 0;
  int m_colLabelHeight = 0;
  int m_labelsDrawn = 0;
  bool m_aggregated = false;
};

}  // namespace ll::vis
