// Layer (left) or head (top) labels of the head grid: one label centred on each band of atlas
// cells (a layer's row of tiles, a head's column), following the grid's zoom / pan.
#pragma once

#include <QWidget>

namespace ll::vis {

class HeadGridAxis : public QWidget {
  Q_OBJECT
 public:
  enum class Edge { Top, Left };
  HeadGridAxis(Edge edge, const QString& prefix, QWidget* parent = nullptr);

  // count bands of `side` cells every `pitch` cells; count 0 shows nothing.
  void setBands(int count, int pitch, int side);
  // Atlas cell at the axis start and cells per logical pixel (as TokenAxis).
  void setMapping(double origin, double cellsPerPixel);

  // The labels painted now with their centres in widget pixels along the axis (for tests).
  QList<QPair<QString, double>> visibleLabels() const;

  QSize sizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* e) override;

 private:
  Edge m_edge;
  QString m_prefix;
  int m_count = 0;
  int m_pitch = 1;
  int m_side = 1;
  double m_origin = 0.0;
  double m_cellsPerPixel = 1.0;
};

}  // namespace ll::vis
