// Per-token bar strip (QCustomPlot bars): one bar per token for a score (router weight,
// selection score), coloured by kept / dropped state, token names on the x axis thinned to the
// width.
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
  // Token indices labelled on the x axis now (thinned to the plot's width).
  const QList<int>& labelledTokens() const;

 private:
  QCustomPlot* m_plot = nullptr;
  class TokenTicks* m_ticks = nullptr;
  QCPBars* m_bars[3] = {nullptr, nullptr, nullptr};  // per TokenState
};

}  // namespace ll::vis
