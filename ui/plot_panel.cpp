#include "ui/plot_panel.h"

#include "ui/theme.h"
#include "visualizers/qt/plot_export.h"

#include <qcustomplot.h>
#include <QEvent>
#include <QVBoxLayout>

#include <algorithm>

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
  m_plot->installEventFilter(this);
  v->addWidget(m_plot);
}

bool PlotPanel::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_plot && event->type() == QEvent::Resize && !m_tokens.isEmpty()) {
    // The axis rect takes its new width in the next replot: lay out first, then thin.
    QMetaObject::invokeMethod(
        this,
        [this] {
          if (m_tokens.isEmpty()) return;
          m_plot->replot(QCustomPlot::rpImmediateRefresh);
          applyTokenTicks();
          m_plot->replot();
        },
        Qt::QueuedConnection);
  }
  return QWidget::eventFilter(watched, event);
}

void PlotPanel::applyTokenTicks() {
  // Labels at a stride that keeps rotated text apart on the axis's width in pixels (the axis
  // rect is known after the first layout; before that, the widget's width is close enough).
  const int n = static_cast<int>(m_tokens.size());
  const int width = std::max(
      1, m_plot->axisRect()->width() > 1 ? m_plot->axisRect()->width() : m_plot->width() - 60);
  const double perToken = double(width) / std::max(1, n);
  int stride = 1;
  while (stride < n && perToken * stride < kMinLabelSpacing)
    stride = stride < 5 ? stride + 1 : stride * 2;
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  m_labelled.clear();
  for (int i = 0; i < n; i += stride) {
    // Thinned axes carry the index too, so a label can be found in the prompt.
    ticker->addTick(i, stride == 1 ? m_tokens[i] : QString::number(i) + " " + m_tokens[i]);
    m_labelled << i;
  }
  m_plot->xAxis->setTicker(ticker);
  m_plot->xAxis->setTickLabelRotation(45);
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
  m_tokens = tokens.mid(0, static_cast<int>(values.size()));
  if (!m_tokens.isEmpty()) {
    applyTokenTicks();
  } else {
    m_labelled.clear();
    m_plot->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    m_plot->xAxis->setTickLabelRotation(0);
  }
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
