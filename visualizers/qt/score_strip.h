// Per-token bar strip (QCustomPlot bars): one bar per token for a score (router weight,
// selection score), coloured by kept / dropped state, token names on the x axis when readable.
#pragma once

#include "visualizers/token_overlay.h"

#include <QWidget>

class QCustomPlot;
class QCPBars;

namespace ll::vis {

class ScoreStrip : public QWidget {
  Q_OBJECT
 public:
  explicit ScoreStrip(QWidget* parent = nullptr);

  void setOverlay(const TokenOverlay& overlay);
  QCustomPlot* plot() const { return m_plot; }
  static QColor stateColor(TokenState state);

 private:
  QCustomPlot* m_plot = nullptr;
  QCPBars* m_bars[3] = {nullptr, nullptr, nullptr};  // per TokenState
};

}  // namespace ll::vis
