// Token labels along one edge of a heatmap, painted with QPainter and thinned out when cells
// get denser than the font (every 2nd, 5th, 10th... label), following the heatmap's view.
#pragma once

#include <QStringList>
#include <QWidget>

namespace ll::vis {

class TokenAxis : public QWidget {
  Q_OBJECT
 public:
  enum class Edge { Top, Left };
  explicit TokenAxis(Edge edge, QWidget* parent = nullptr);

  void setLabels(const QStringList& labels);
  // First visible cell at the axis start and cells per logical pixel along the axis.
  void setMapping(double origin, double cellsPerPixel, int offsetPx);

  // Label stride for a cell pitch: the smallest of 1, 2, 5, 10, 20, 50... giving room.
  static int labelStride(double pixelsPerCell, int minPixelsPerLabel);

  QSize sizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* e) override;

 private:
  Edge m_edge;
  QStringList m_labels;
  double m_origin = 0.0;
  double m_cellsPerPixel = 1.0;
  int m_offset = 0;
};

}  // namespace ll::vis
