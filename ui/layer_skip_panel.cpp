// The Layer skip panel: draws a Snapshot's LayerSkipResult (computed on the worker).
#include "ui/layer_skip_panel.h"

#include "ui/narrow.h"
#include "ui/selection_model.h"
#include "ui/theme.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include <algorithm>

namespace ll::ui {

namespace {

// Plottables of the KL plot and the update plot, in creation order.
enum KlPlottable { kKlAtToken = 0, kKlMean = 1, kTop1Changed = 2 };
enum UpdatePlottable { kRelUpdate = 0, kCosUpdate = 1, kActive = 2 };

QCustomPlot* makePlot(QWidget* parent, const QString& yLabel) {
  auto* p = new QCustomPlot(parent);
  p->setMinimumHeight(110);
  p->xAxis->setLabel(QObject::tr("layer skipped"));
  p->yAxis->setLabel(yLabel);
  // Whole layer numbers (never 0.5 on a 2-layer model), sparser on deep models.
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  p->xAxis->setTicker(ticker);
  p->xAxis->setSubTicks(false);
  p->yAxis->ticker()->setTickCount(3);  // legible when the plot is short
  p->legend->setVisible(true);
  QFont f = p->legend->font();
  f.setPointSizeF(std::max(6.0, f.pointSizeF() - 1.5));
  p->legend->setFont(f);
  p->legend->setRowSpacing(0);
  p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  return p;
}

QCPGraph* markerGraph(QCustomPlot* p, QCPScatterStyle::ScatterShape shape, const QString& name) {
  QCPGraph* g = p->addGraph();
  g->setLineStyle(QCPGraph::lsNone);
  g->setScatterStyle(QCPScatterStyle(shape, 9));
  g->setName(name);
  return g;
}

QCPGraph* curve(QCustomPlot* p, PlotSeries series, const QString& name) {
  QCPGraph* g = p->addGraph();
  setPlotSeries(g, series);
  g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
  g->setName(name);
  return g;
}

// Bar and marker colours follow the theme (applyPlotTheme recolours only curve pens).
void colourPlots(QCustomPlot* kl, QCustomPlot* upd) {
  const Theme t = currentTheme();
  for (int i : {kKlAtToken, kKlMean}) {
    auto* b = qobject_cast<QCPBars*>(kl->plottable(i));
    b->setBrush(seriesColor(i == kKlAtToken ? PlotSeries::Primary : PlotSeries::Secondary, t));
    b->setPen(Qt::NoPen);
  }
  kl->plottable(kTop1Changed)->setPen(QPen(seriesColor(PlotSeries::Tertiary, t), 2));
  upd->plottable(kActive)->setPen(QPen(seriesColor(PlotSeries::Tertiary, t), 2));
  applyPlotTheme(kl, t);
  applyPlotTheme(upd, t);
}

}  // namespace

LayerSkipPanel::LayerSkipPanel(SelectionModel* selection, QWidget* parent)
    : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  auto* bar = new QHBoxLayout;
  m_enabled = new QCheckBox(tr("Compute"), this);
  m_enabled->setToolTip(
      tr("Runs the prompt once more per layer, with that layer skipped, whenever the prompt or "
         "the interventions change"));
  m_part = new QComboBox(this);
  // Item order = rt::SkipPart.
  m_part->addItems({tr("whole layer"), tr("attention only"), tr("MLP only")});
  allowNarrow(m_part, 100);
  bar->addWidget(m_enabled);
  bar->addWidget(m_part, 1);
  v->addLayout(bar);
  m_caption = new QLabel(this);
  m_caption->setWordWrap(true);
  m_caption->setTextFormat(Qt::PlainText);  // token text shows literally ("<s>")
  v->addWidget(m_caption);
  m_status = new QLabel(this);
  m_status->setWordWrap(true);
  v->addWidget(m_status);

  m_kl = makePlot(this, tr("KL (nats)"));
  auto* group = new QCPBarsGroup(m_kl);
  group->setSpacing(0);
  for (const QString& name : {tr("at token"), tr("prompt mean")}) {
    auto* b = new QCPBars(m_kl->xAxis, m_kl->yAxis);
    b->setWidth(0.4);
    b->setBarsGroup(group);
    b->setName(name);
  }
  markerGraph(m_kl, QCPScatterStyle::ssTriangleInverted, tr("top-1 changed"));
  v->addWidget(m_kl, 1);

  m_update = makePlot(this, tr("update"));
  curve(m_update, PlotSeries::Primary, tr("|Δ|/|h|"));
  curve(m_update, PlotSeries::Secondary, tr("cos(Δ, h)"));
  markerGraph(m_update, QCPScatterStyle::ssDiamond, tr("active"));
  m_update->xAxis->setLabel(tr("layer"));
  v->addWidget(m_update, 1);
  colourPlots(m_kl, m_update);
  clearData();

  auto layerClick = [this](QCPAbstractPlottable*, int index, QMouseEvent*) {
    if (m_snapshot && m_snapshot->layerSkip) m_selection->setLayer(index);
  };
  for (QCustomPlot* p : {m_kl, m_update}) {
    for (int i = 0; i < p->plottableCount(); ++i) p->plottable(i)->setSelectable(QCP::stSingleData);
    p->setInteractions(QCP::iSelectPlottables);
    connect(p, &QCustomPlot::plottableClick, this, layerClick);
  }
  connect(m_enabled, &QCheckBox::toggled, this, &Panel::settingsChanged);
  connect(m_part, &QComboBox::currentIndexChanged, this, &Panel::settingsChanged);
}

QList<QWidget*> LayerSkipPanel::figureWidgets() const {
  return {m_kl, m_update};
}

QString LayerSkipPanel::status() const {
  return m_status->text();
}

void LayerSkipPanel::applyTo(ViewState& state) const {
  state.layerSkip.enabled = m_enabled->isChecked();
  state.layerSkip.part = static_cast<rt::SkipPart>(std::clamp(m_part->currentIndex(), 0, 2));
}

void LayerSkipPanel::applyState(const LayerSkipSettings& settings) {
  const QSignalBlocker b1(m_enabled), b2(m_part);
  m_enabled->setChecked(settings.enabled);
  m_part->setCurrentIndex(static_cast<int>(settings.part));
}

void LayerSkipPanel::clearData() {
  Panel::clearData();
  for (QCustomPlot* p : {m_kl, m_update}) {
    for (int i = 0; i < p->graphCount(); ++i) p->graph(i)->data()->clear();
    for (int i : {kKlAtToken, kKlMean})
      if (auto* b = qobject_cast<QCPBars*>(p->plottable(i))) b->data()->clear();
    p->replot();
  }
  m_caption->clear();
  m_status->setText(tr("Tick Compute to skip each layer in turn (one extra pass per layer)."));
}

void LayerSkipPanel::showSnapshot(const SnapshotPtr& snapshot) {
  clearData();
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (!s.layerSkipError.isEmpty()) {
    m_status->setText(s.layerSkipError);
    return;
  }
  if (!s.layerSkip) {
    if (s.state.layerSkip.enabled && s.trace)
      m_status->setText(tr("Skipping each layer in turn (one pass per layer)..."));
    return;
  }
  const rt::ana::LayerSkipResult& r = *s.layerSkip;
  m_status->clear();
  const QString tok = r.position < s.tokens.size() ? s.tokens[r.position] : QString();
  m_caption->setText(tr("Skipping each layer's %1: KL(p || p_skip) of the next token after #%2 "
                        "\"%3\" and its mean over the prompt")
                         .arg(m_part->itemText(static_cast<int>(r.part)))
                         .arg(r.position)
                         .arg(tok));
  const int L = r.nLayer;
  QVector<double> xs(L), kl(L), mean(L), rel(L), cos(L), chX, chY, actX, actY;
  for (int l = 0; l < L; ++l) {
    xs[l] = l;
    kl[l] = r.kl[l];
    mean[l] = r.klMean[l];
    rel[l] = r.relUpdate[l];
    cos[l] = r.cosUpdate[l];
    if (r.top1Changed[l]) chX << l, chY << std::max(kl[l], mean[l]);
    if (r.active[l]) actX << l, actY << rel[l];
  }
  qobject_cast<QCPBars*>(m_kl->plottable(kKlAtToken))->setData(xs, kl);
  qobject_cast<QCPBars*>(m_kl->plottable(kKlMean))->setData(xs, mean);
  m_kl->graph(0)->setData(chX, chY);
  m_update->graph(kRelUpdate)->setData(xs, rel);
  m_update->graph(kCosUpdate)->setData(xs, cos);
  m_update->graph(kActive)->setData(actX, actY);
  colourPlots(m_kl, m_update);
  double top = 0;
  for (int l = 0; l < L; ++l) top = std::max({top, kl[l], mean[l]});
  m_kl->xAxis->setRange(-0.6, L - 0.4);
  m_kl->yAxis->setRange(0, top * 1.25 + 1e-9);  // room above the bars for the markers
  double lo = 0, hi = 0;
  for (int l = 0; l < L; ++l) lo = std::min({lo, cos[l]}), hi = std::max({hi, rel[l], cos[l]});
  m_update->xAxis->setRange(-0.6, L - 0.4);
  m_update->yAxis->setRange(lo - 0.05, hi * 1.1 + 0.05);
  m_kl->replot();
  m_update->replot();
}

}  // namespace ll::ui
