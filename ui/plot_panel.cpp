#include "ui/plot_panel.h"

#include "ui/theme.h"
#include "visualizers/qt/plot_export.h"
#include "visualizers/qt/token_ticks.h"

#include <qcustomplot.h>
#include <QVBoxLayout>

namespace ll::ui {

PlotPanel::PlotPanel(QWidget* parent) : QWidget(parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(0, 0, 0, 0);
  m_plot = new QCustomPlot(this);
  m_plot->setMinimumHeight(140);
  m_plot->addGraph();
  setPlotSeries(m_plot->graph(0), PlotSeries::Tertiary);
  m_plot->graph(0)->setPen(QPen(seriesColor(PlotSeries::Tertiary, currentTheme()), 2));
  m_plot->graph(0)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
  m_plot->xAxis->setLabel(tr("query token"));
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  applyPlotTheme(m_plot, currentTheme());
  m_ticks = new vis::TokenTicks(m_plot, m_plot->xAxis);
  v->addWidget(m_plot);
}

QList<int> PlotPanel::labelledTokens() const {
  return m_ticks->labelled();
}

void PlotPanel::setCurve(const std::vector<double>& values, const QStringList& tokens,
                         const QString& yLabel) {
  QVector<double> x(static_cast<int>(values.size())), y(static_cast<int>(values.size()));
  for (int i = 0; i < x.size(); ++i) {
    x[i] = i;
    y[i] = values[i];
  }
  m_plot->graph(0)->setData(x, y);
  // Antialiased wide polylines and hundreds of circles are slow in the raster engine: long
  // prompts get a thin line without markers (the curve stays clickable).
  const bool dense = values.size() > 120;
  m_plot->graph(0)->setPen(QPen(seriesColor(PlotSeries::Tertiary, currentTheme()), dense ? 1 : 2));
  m_plot->graph(0)->setScatterStyle(
      QCPScatterStyle(dense ? QCPScatterStyle::ssNone : QCPScatterStyle::ssCircle, 5));
  m_plot->graph(0)->setAntialiased(!dense);
  m_plot->yAxis->setLabel(yLabel);
  // Token names on the x axis, thinned to what the width can show.
  m_ticks->setTokens(tokens.mid(0, static_cast<int>(values.size())));
  m_plot->rescaleAxes();
  m_plot->xAxis->setRange(-0.5, std::max<double>(0.5, values.size() - 0.5));
  m_plot->yAxis->setRangeLower(0.0);
  m_plot->yAxis->setRangeUpper(m_plot->yAxis->range().upper * 1.1 + 1e-6);
  m_plot->replot();
}

bool PlotPanel::exportTo(const QString& path, QString* error) {
  vis::FigureFormat f;
  if (!vis::figureFormatFromPath(path, &f)) {
    if (error) *error = tr("unknown figure format: %1 (use .png, .pdf or .svg)").arg(path);
    return false;
  }
  return vis::exportPlot(m_plot, path, f, 2.0, error);
}

}  // namespace ll::ui
