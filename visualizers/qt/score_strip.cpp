#include "visualizers/qt/score_strip.h"

#include "visualizers/qt/token_ticks.h"

#include <qcustomplot.h>
#include <QVBoxLayout>

namespace ll::vis {

QColor ScoreStrip::stateColor(TokenState state) {
  switch (state) {
    case TokenState::Kept:
      return QColor(53, 183, 121);  // viridis green
    case TokenState::Dropped:
      return QColor(170, 170, 175);
    case TokenState::Neutral:
      break;
  }
  return QColor(59, 82, 139);  // viridis blue
}

ScoreStrip::ScoreStrip(QWidget* parent) : QWidget(parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(0, 0, 0, 0);
  m_plot = new QCustomPlot(this);
  m_plot->setMinimumHeight(100);
  const char* names[3] = {"scored", "kept", "dropped"};
  for (int s = 0; s < 3; ++s) {
    m_bars[s] = new QCPBars(m_plot->xAxis, m_plot->yAxis);
    m_bars[s]->setWidth(0.8);
    const QColor c = stateColor(static_cast<TokenState>(s));
    m_bars[s]->setBrush(c);
    m_bars[s]->setPen(QPen(c.darker(130)));
    m_bars[s]->setName(tr(names[s]));
  }
  // The legend sits in its own row above the axis rect, one entry beside the next: inside the
  // axis rect it covered the bars of the last tokens (the ones recent-token methods keep).
  m_plot->legend->setVisible(true);
  m_plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  m_plot->legend->setWrap(3);
  m_plot->legend->setBorderPen(Qt::NoPen);
  m_plot->legend->setBrush(Qt::NoBrush);
  m_plot->axisRect()->insetLayout()->take(m_plot->legend);
  m_plot->plotLayout()->insertRow(0);
  m_plot->plotLayout()->addElement(0, 0, m_plot->legend);
  m_plot->plotLayout()->setRowStretchFactor(0, 0.001);
  m_plot->plotLayout()->setRowSpacing(0);
  m_plot->legend->setMargins(QMargins(4, 2, 4, 0));
  m_ticks = new TokenTicks(m_plot, m_plot->xAxis, 60.0);
  v->addWidget(m_plot);
}

const QList<int>& ScoreStrip::labelledTokens() const {
  return m_ticks->labelled();
}

void ScoreStrip::setOverlay(const TokenOverlay& overlay) {
  QVector<double> keys[3], values[3];
  QStringList labels;
  const int n = static_cast<int>(overlay.items.size());
  for (int i = 0; i < n; ++i) {
    const auto& it = overlay.items[i];
    const int s = static_cast<int>(it.state);
    keys[s] << i;
    values[s] << it.score;
    labels << QString::fromStdString(it.text).simplified();
  }
  for (int s = 0; s < 3; ++s) {
    m_bars[s]->setData(keys[s], values[s], true);
    // Only the states present get a legend entry (addToLegend is a no-op when already there).
    if (keys[s].isEmpty())
      m_bars[s]->removeFromLegend();
    else
      m_bars[s]->addToLegend();
  }
  m_ticks->setTokens(labels);  // thinned to the plot's width
  m_plot->yAxis->setLabel(QString::fromStdString(overlay.scoreName));
  float lo = 0, hi = 1;
  overlay.scoreRange(&lo, &hi);
  m_plot->xAxis->setRange(-0.6, std::max(0.6, n - 0.4));
  m_plot->yAxis->setRange(std::min(0.0f, lo), hi + 0.1 * (hi - std::min(0.0f, lo)));
  m_plot->replot();
}

}  // namespace ll::vis
