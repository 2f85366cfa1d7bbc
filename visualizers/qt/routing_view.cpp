#include "visualizers/qt/routing_view.h"

#include "visualizers/qt/attention_map_view.h"

#include <qcustomplot.h>
#include <QVBoxLayout>

namespace ll::vis {

RoutingView::RoutingView(QVulkanInstance* instance, QWidget* parent) : QWidget(parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(0, 0, 0, 0);
  m_map = new AttentionMapView(instance, this);
  v->addWidget(m_map, 3);
  m_strip = new QCustomPlot(this);
  m_strip->setMinimumHeight(90);
  auto* bars = new QCPBars(m_strip->xAxis, m_strip->yAxis);
  bars->setBrush(QColor(59, 82, 139));
  bars->setPen(Qt::NoPen);
  // Short axis title and few ticks: the strip is ~60 px tall on a 700 px screen, where a long
  // title was cut and four tick labels ran into each other.
  m_strip->xAxis->setLabel(tr("expert"));
  m_strip->yAxis->setLabel(tr("score"));
  m_strip->yAxis->ticker()->setTickCount(3);
  v->addWidget(m_strip, 1);
  connect(m_map, &AttentionMapView::hovered, this,
          [this](const QString&, const QString&, float, int row, int) { showRowInStrip(row); });
  connect(m_map, &AttentionMapView::cellClicked, this, &RoutingView::cellSelected);
}

RoutingScores RoutingView::scores() const {
  return RoutingScores{m_nLayer, m_nTokens, m_nExpert, m_scores};
}

void RoutingView::setScores(std::vector<float> scores, int nLayer, int nTokens, int nExpert,
                            const QStringList& tokens) {
  m_scores = std::move(scores);
  m_nLayer = nLayer;
  m_nTokens = nTokens;
  m_nExpert = nExpert;
  m_tokens = tokens;
  this->scores().validate();
  showMatrix(m_mode, 0);
}

void RoutingView::showMatrix(Mode mode, int index) {
  const RoutingScores r = scores();
  m_shown = mode == Mode::LayerByExpert ? layerByExpert(r, index) : tokenByExpert(r, index);
  m_mode = mode;
  m_index = index;
  QStringList rows, experts;
  for (int e = 0; e < m_nExpert; ++e) experts << QStringLiteral("E%1").arg(e);
  if (mode == Mode::LayerByExpert)
    for (int l = 0; l < m_nLayer; ++l) rows << QStringLiteral("L%1").arg(l);
  else
    rows = m_tokens;
  m_rows = rows;
  m_map->setMatrix(std::make_shared<HeatmapMatrix>(m_shown), rows, experts);
  showRowInStrip(0);
}

void RoutingView::clear() {
  m_scores.clear();
  m_nLayer = m_nTokens = m_nExpert = 0;
  m_tokens.clear();
  m_rows.clear();
  m_shown = {};
  m_index = 0;
  m_map->setMatrix(nullptr, {}, {});
  if (auto* bars = qobject_cast<QCPBars*>(m_strip->plottable(0))) bars->data()->clear();
  m_strip->replot();
}

void RoutingView::showRowInStrip(int row) {
  if (row < 0 || row >= m_shown.rows) return;
  QVector<double> x, y;
  for (int e = 0; e < m_shown.cols; ++e) {
    x << e;
    y << m_shown.at(row, e);
  }
  auto* bars = qobject_cast<QCPBars*>(m_strip->plottable(0));
  bars->setData(x, y, true);
  // Name the row the bars belong to (the first, or the one under the pointer).
  const QString name = row < m_rows.size() ? m_rows[row] : QString::number(row);
  m_strip->xAxis->setLabel(m_mode == Mode::LayerByExpert
                               ? tr("expert · router scores in layer %1").arg(row)
                               : tr("expert · router scores of token %1 %2").arg(row).arg(name));
  m_strip->rescaleAxes();
  m_strip->xAxis->setRange(-0.6, m_shown.cols - 0.4);
  m_strip->yAxis->setRangeLower(std::min(0.0, m_strip->yAxis->range().lower));
  m_strip->replot();
}

}  // namespace ll::vis
