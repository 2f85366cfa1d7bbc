// The colour bar beside a heatmap: the colormap as a vertical gradient with the value range it
// spans (top = high) and the scale kind (linear, log, per row), painted with QPainter.
#pragma once

#include "visualizers/heatmap_types.h"

#include <QWidget>

namespace ll::vis {

class ColorBar : public QWidget {
  Q_OBJECT
 public:
  explicit ColorBar(QWidget* parent = nullptr);

  // The scale a heatmap shows: its style's colormap and normalisation and the resolved range
  // (resolveRange of its matrix); hasData false leaves the bar without numbers.
  void setScale(Colormap colormap, Normalization normalization, ResolvedRange range, bool hasData);

  Colormap colormap() const { return m_colormap; }
  // The texts shown: the ends (top high, bottom low), the middle, and the kind.
  QString highText() const;
  QString midText() const;
  QString lowText() const;
  QString kindText() const;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* e) override;

 private:
  // The gradient's rectangle inside the widget.
  QRect barRect() const;

  Colormap m_colormap = Colormap::Viridis;
  Normalization m_norm = Normalization::Linear;
  ResolvedRange m_range;
  bool m_hasData = false;
};

}  // namespace ll::vis
