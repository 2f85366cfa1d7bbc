// The colour bar beside a colour-coded grid (the attention heatmap, the logit-lens grid): the
// colormap as a vertical gradient with the value range it spans (top = high) and the scale kind
// (linear, log, per row), painted with QPainter in the palette's (the theme's) colours.
#pragma once

#include "visualizers/heatmap_types.h"

#include <QWidget>

namespace ll::vis {

class ColorBar : public QWidget {
  Q_OBJECT
 public:
  explicit ColorBar(QWidget* parent = nullptr);

  // The scale the grid beside it colours with: a heatmap's style's colormap and normalisation and
  // the resolved range (resolveRange of its matrix); the lens grid's colormap and lo..hi, linear.
  // hasData false leaves the bar without numbers.
  void setScale(Colormap colormap, Normalization normalization, ResolvedRange range, bool hasData);

  Colormap colormap() const { return m_colormap; }
  ResolvedRange range() const { return m_range; }
  bool hasData() const { return m_hasData; }
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
