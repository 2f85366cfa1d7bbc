// The Steering readouts panel: draws a Snapshot's SteeringSweepResult (computed on the worker).
#include "ui/steering_readouts_panel.h"

#include "ui/selection_model.h"
#include "ui/theme.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace ll::ui {

namespace {

constexpr double kAlphaLo = 0.15, kAlphaHi = 20.0;  // the log axis around the 0.2..16 sweep

QCustomPlot* makePlot(QWidget* parent, const QString& xLabel) {
  auto* p = new QCustomPlot(parent);
  p->setMinimumHeight(110);
  p->xAxis->setLabel(xLabel);
  p->yAxis->setLabel(QObject::tr("nats"));
  p->yAxis->ticker()->setTickCount(3);  // legible when the plot is short
  // The legend in a row of its own above the plot (inside it would hide the curves of a narrow
  // dock).
  p->legend->setVisible(true);
  QFont f = p->legend->font();
  f.setPointSizeF(std::max(6.0, f.pointSizeF() - 1.5));
  p->legend->setFont(f);
  p->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  p->plotLayout()->insertRow(0);
  p->plotLayout()->addElement(0, 0, p->legend);
  p->plotLayout()->setRowStretchFactor(0, 0.001);
  return p;
}

QCPGraph* curve(QCustomPlot* p, PlotSeries series, const QString& name, QCPAxis* y = nullptr) {
  QCPGraph* g = p->addGraph(p->xAxis, y ? y : p->yAxis);
  setPlotSeries(g, series);
  g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
  g->setName(name);
  return g;
}

QCPItemStraightLine* line(QCustomPlot* p) {
  auto* l = new QCPItemStraightLine(p);
  l->setVisible(false);
  l->setSelectable(false);
  return l;
}

void placeVertical(QCPItemStraightLine* l, double x) {
  l->point1->setCoords(x, 0);
  l->point2->setCoords(x, 1);
  l->setVisible(true);
}

QString alphaText(double a) {
  return QString::number(a, 'g', 2);
}

// "top-1 by alpha: 0–1.1 “the”, 1.6–16 “happy”": the sweep's runs of one top-1 token.
QString top1Runs(const rt::ana::SteeringSweepResult& r, const QStringList& labels) {
  QStringList runs;
  const int A = static_cast<int>(r.alphas.size());
  for (int i = 0; i < A && i < labels.size();) {
    int j = i;
    while (j + 1 < A && r.top1[j + 1] == r.top1[i]) ++j;
    const QString range =
        i == j ? alphaText(r.alphas[i]) : alphaText(r.alphas[i]) + "–" + alphaText(r.alphas[j]);
    runs << range + " “" + labels[i] + "”";
    i = j + 1;
  }
  return QObject::tr("top-1 by alpha: %1").arg(runs.join(QStringLiteral(", ")));
}

}  // namespace

SteeringReadoutsPanel::SteeringReadoutsPanel(SelectionModel* selection, QWidget* parent)
    : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  auto* bar = new QHBoxLayout;
  m_enabled = new QCheckBox(tr("Compute"), this);
  m_enabled->setToolTip(
      tr("Runs the prompt up to the selected token once per alpha (13 values, 0.2 to 16) and once "
         "per layer whenever the prompt, the steering vector, alpha or the token change"));
  m_layers = new QCheckBox(tr("Layer sweep"), this);
  m_layers->setChecked(true);
  m_layers->setToolTip(tr("Also add the vector at each layer in turn, at the current alpha"));
  bar->addWidget(m_enabled);
  bar->addWidget(m_layers);
  bar->addStretch(1);
  v->addLayout(bar);
  for (QLabel** l : {&m_caption, &m_status, &m_top1, &m_note}) {
    *l = new QLabel(this);
    (*l)->setWordWrap(true);
    (*l)->setTextFormat(Qt::PlainText);  // token text shows literally ("<s>")
  }
  v->addWidget(m_caption);
  v->addWidget(m_status);

  m_alpha = makePlot(this, tr("|alpha| (the Steering panel's vector)"));
  m_alpha->xAxis->setScaleType(QCPAxis::stLogarithmic);
  QSharedPointer<QCPAxisTickerLog> logTicker(new QCPAxisTickerLog);
  logTicker->setLogBase(10);
  logTicker->setSubTickCount(8);
  m_alpha->xAxis->setTicker(logTicker);
  curve(m_alpha, PlotSeries::Primary, tr("KL(p_α||p_0)"));
  curve(m_alpha, PlotSeries::Secondary, tr("entropy"));
  QCPGraph* cur = m_alpha->addGraph();
  cur->setLineStyle(QCPGraph::lsNone);
  cur->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, 10));
  cur->setName(tr("current α"));
  m_alphaLine = line(m_alpha);
  m_baseLine = line(m_alpha);
  m_alpha->xAxis->setRange(kAlphaLo, kAlphaHi);
  v->addWidget(m_alpha, 1);
  v->addWidget(m_top1);

  m_layer = makePlot(this, tr("layer steered (at the current α)"));
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  m_layer->xAxis->setTicker(ticker);
  m_layer->xAxis->setSubTicks(false);
  m_layer->yAxis2->setVisible(true);
  m_layer->yAxis2->setLabel(tr("α|v| / |h|"));
  m_layer->yAxis2->ticker()->setTickCount(3);
  curve(m_layer, PlotSeries::Primary, tr("KL"));
  curve(m_layer, PlotSeries::Secondary, tr("entropy"));
  curve(m_layer, PlotSeries::Tertiary, tr("α|v|/|h_l|"), m_layer->yAxis2);
  m_layerLine = line(m_layer);
  v->addWidget(m_layer, 1);
  v->addWidget(m_note);
  restyle();
  clearData();

  connect(m_enabled, &QCheckBox::toggled, this, &Panel::settingsChanged);
  connect(m_layers, &QCheckBox::toggled, this, &Panel::settingsChanged);
}

void SteeringReadoutsPanel::restyle() {
  const Theme t = currentTheme();
  const QColor marker = seriesColor(PlotSeries::Tertiary, t);
  m_alpha->graph(kAlphaCurrent)->setPen(QPen(marker, 2));
  m_alphaLine->setPen(QPen(marker, 1.5, Qt::DashLine));
  m_baseLine->setPen(QPen(seriesColor(PlotSeries::Secondary, t), 1, Qt::DotLine));
  m_layerLine->setPen(QPen(marker, 1.5, Qt::DashLine));
  applyPlotTheme(m_alpha, t);
  applyPlotTheme(m_layer, t);
}

void SteeringReadoutsPanel::changeEvent(QEvent* e) {
  Panel::changeEvent(e);
  // applyTheme sets the application palette; the plots' own colours follow.
  if (e->type() == QEvent::PaletteChange) restyle();
}

QList<QWidget*> SteeringReadoutsPanel::figureWidgets() const {
  return {m_alpha, m_layer};
}

double SteeringReadoutsPanel::alphaMarker() const {
  return m_alphaLine->visible() ? m_alphaLine->point1->coords().x() : 0.0;
}
double SteeringReadoutsPanel::layerMarker() const {
  return m_layerLine->visible() ? m_layerLine->point1->coords().x() : -1.0;
}
QString SteeringReadoutsPanel::status() const {
  return m_status->text();
}
QString SteeringReadoutsPanel::caption() const {
  return m_caption->text();
}
QString SteeringReadoutsPanel::top1Text() const {
  return m_top1->text();
}
QString SteeringReadoutsPanel::layerNote() const {
  return m_note->text();
}

void SteeringReadoutsPanel::applyTo(ViewState& state) const {
  state.steerRead.enabled = m_enabled->isChecked();
  state.steerRead.layerSweep = m_layers->isChecked();
}

void SteeringReadoutsPanel::applyState(const SteeringReadoutSettings& settings) {
  const QSignalBlocker b1(m_enabled), b2(m_layers);
  m_enabled->setChecked(settings.enabled);
  m_layers->setChecked(settings.layerSweep);
}

void SteeringReadoutsPanel::clearData() {
  Panel::clearData();
  for (QCustomPlot* p : {m_alpha, m_layer}) {
    for (int i = 0; i < p->graphCount(); ++i) p->graph(i)->data()->clear();
    p->replot();
  }
  for (QCPItemStraightLine* l : {m_alphaLine, m_baseLine, m_layerLine}) l->setVisible(false);
  m_caption->clear();
  m_top1->clear();
  m_note->clear();
  m_status->setText(
      tr("Tick Compute to sweep alpha and the steered layer for the Steering panel's vector."));
}

void SteeringReadoutsPanel::showSnapshot(const SnapshotPtr& snapshot) {
  clearData();
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (!s.steerSweepError.isEmpty()) {
    m_status->setText(s.steerSweepError);
    return;
  }
  if (!s.steerSweep) {
    if (s.state.steerRead.enabled && s.trace)
      m_status->setText(tr("Sweeping alpha and the steered layer (one pass each)..."));
    return;
  }
  const rt::ana::SteeringSweepResult& r = *s.steerSweep;
  m_status->clear();
  const QString tok = r.position < s.tokens.size() ? s.tokens[r.position] : QString();
  m_caption->setText(tr("Next token after #%1 \"%2\", vector added to layer %3's output from #%4; "
                        "unsteered: top-1 \"%5\", entropy %6 nats")
                         .arg(r.position)
                         .arg(tok)
                         .arg(r.layer)
                         .arg(r.fromPos)
                         .arg(s.steerSweepBaseTop1)
                         .arg(r.entropyBase, 0, 'g', 3));
  if (!r.reaches)
    m_status->setText(tr("The selected token is before the steering start (#%1): its next token "
                         "does not change. Select a later token.")
                          .arg(r.fromPos));
  else if (r.alpha == 0.0f)
    m_status->setText(tr("alpha is 0: the layer sweep changes nothing."));
  drawAlphaSweep(s);
  drawLayerSweep(s);
  restyle();
  m_alpha->replot();
  m_layer->replot();
}

// Alpha sweep on a log axis of |alpha| (alpha 0 is the dotted entropy line).
void SteeringReadoutsPanel::drawAlphaSweep(const Snapshot& s) {
  const rt::ana::SteeringSweepResult& r = *s.steerSweep;
  QVector<double> ax, kl, ent;
  double top = r.entropyBase;
  for (size_t i = 0; i < r.alphas.size(); ++i) {
    if (r.alphas[i] == 0.0f) continue;
    ax << std::fabs(r.alphas[i]);
    kl << r.kl[i];
    ent << r.entropy[i];
    top = std::max({top, r.kl[i], r.entropy[i]});
  }
  m_alpha->graph(kAlphaKl)->setData(ax, kl);
  m_alpha->graph(kAlphaEntropy)->setData(ax, ent);
  m_alpha->xAxis->setLabel(r.alpha < 0 ? tr("|alpha| (negative alphas)") : tr("alpha"));
  m_baseLine->point1->setCoords(kAlphaLo, r.entropyBase);
  m_baseLine->point2->setCoords(kAlphaHi, r.entropyBase);
  m_baseLine->setVisible(true);
  const double a = std::fabs(r.alpha);
  if (a > 0) {
    placeVertical(m_alphaLine, a);
    // The current alpha's own KL: the layer sweep at the steered layer ran at it.
    if (!r.layerKl.empty())
      m_alpha->graph(kAlphaCurrent)
          ->setData(QVector<double>{a}, QVector<double>{r.layerKl[size_t(r.layer)]});
  }
  m_alpha->xAxis->setRange(std::min(kAlphaLo, a > 0 ? a / 1.3 : kAlphaLo),
                           std::max(kAlphaHi, a * 1.3));
  m_alpha->yAxis->setRange(0, top * 1.15 + 1e-9);
  m_top1->setText(top1Runs(r, s.steerSweepTop1));
}

// Layer sweep at the current alpha, and the push ratio per layer on the right axis.
void SteeringReadoutsPanel::drawLayerSweep(const Snapshot& s) {
  const rt::ana::SteeringSweepResult& r = *s.steerSweep;
  const int L = r.nLayer;
  QVector<double> lx(L), push(L), lkl, lent;
  double ltop = 0, ptop = 0;
  for (int l = 0; l < L; ++l) {
    lx[l] = l;
    push[l] = r.pushRatio[l];
    ptop = std::max(ptop, push[l]);
    if (r.layerKl.empty()) continue;
    lkl << r.layerKl[l];
    lent << r.layerEntropy[l];
    ltop = std::max({ltop, r.layerKl[l], r.layerEntropy[l]});
  }
  m_layer->graph(kLayerKl)->setData(r.layerKl.empty() ? QVector<double>() : lx, lkl);
  m_layer->graph(kLayerEntropy)->setData(r.layerKl.empty() ? QVector<double>() : lx, lent);
  m_layer->graph(kLayerPush)->setData(lx, push);
  placeVertical(m_layerLine, r.layer);
  m_layer->xAxis->setRange(-0.4, L - 0.6);
  m_layer->yAxis->setRange(0, ltop * 1.15 + 1e-9);
  m_layer->yAxis2->setRange(0, ptop * 1.15 + 1e-9);
  const QString from =
      s.state.steering.source == SteerSource::Saved
          ? tr("The session's vector is applied at layer %1.").arg(r.layer)
          : tr("The vector is built from layer %1's residual stream.").arg(r.layer);
  m_note->setText(from + " " +
                  (r.layerKl.empty()
                       ? tr("Layer sweep off: only α|v| / mean|h_l| per layer is shown.")
                       : tr("The layer sweep adds that same vector at every other layer, where "
                            "the residual space may differ and the direction may mean nothing.")));
}

}  // namespace ll::ui
