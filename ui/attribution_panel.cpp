#include "ui/attribution_panel.h"

#include "runtime/analysis/attribution.h"
#include "ui/selection_model.h"
#include "ui/theme.h"

#include <qcustomplot.h>
#include <QGridLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace ll::ui {

namespace {

QCPBars* barsOf(QCustomPlot* p, int i) {
  return qobject_cast<QCPBars*>(p->plottable(i));
}

}  // namespace

AttributionPanel::AttributionPanel(SelectionModel* selection, QWidget* parent)
    : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  auto* form = new QGridLayout;
  m_target = new QLineEdit(this);
  m_target->setPlaceholderText(tr("model's top-1"));
  m_target->setToolTip(tr("Token whose logit is attributed: its id or its text"));
  m_other = new QLineEdit(this);
  m_other->setPlaceholderText(tr("none"));
  m_other->setToolTip(tr("Optional token subtracted: logit(target) - logit(minus)"));
  form->addWidget(new QLabel(tr("Token"), this), 0, 0);
  form->addWidget(m_target, 0, 1);
  form->addWidget(new QLabel(tr("Minus"), this), 1, 0);
  form->addWidget(m_other, 1, 1);
  form->setColumnStretch(1, 1);
  v->addLayout(form);
  m_summary = new QLabel(this);
  m_summary->setWordWrap(true);
  m_summary->setTextFormat(Qt::PlainText);  // token text is shown literally ("<s>")
  v->addWidget(m_summary);

  auto* split = new QSplitter(Qt::Vertical, this);
  m_layers = new QCustomPlot(split);
  m_layers->setMinimumHeight(100);
  auto* group = new QCPBarsGroup(m_layers);
  const QString names[2] = {tr("attention"), tr("MLP")};
  for (int i = 0; i < 2; ++i) {
    auto* b = new QCPBars(m_layers->xAxis, m_layers->yAxis);
    b->setName(names[i]);
    b->setWidth(0.4);
    b->setPen(Qt::NoPen);
    b->setBarsGroup(group);
  }
  // The legend in a row of its own above the bars (inside it would hide the last layers' bars).
  m_layers->legend->setVisible(true);
  m_layers->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  m_layers->plotLayout()->insertRow(0);
  m_layers->plotLayout()->addElement(0, 0, m_layers->legend);
  m_layers->plotLayout()->setRowStretchFactor(0, 0.001);
  m_layers->xAxis->setLabel(tr("layer"));
  m_layers->yAxis->setLabel(tr("logit"));
  m_layers->yAxis->ticker()->setTickCount(3);
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  m_layers->xAxis->setTicker(ticker);
  m_layers->xAxis->setSubTicks(false);

  m_heads = new QCustomPlot(split);
  m_heads->setMinimumHeight(100);
  m_map = new QCPColorMap(m_heads->xAxis, m_heads->yAxis);
  m_map->setInterpolate(false);
  m_scale = new QCPColorScale(m_heads);
  m_heads->plotLayout()->addElement(0, 1, m_scale);
  m_scale->setBarWidth(8);
  m_map->setColorScale(m_scale);  // the map takes the scale's gradient: set it after
  m_map->setGradient(divergingGradient());
  m_heads->xAxis->setLabel(tr("head"));
  m_heads->yAxis->setLabel(tr("layer"));
  m_heads->yAxis->setRangeReversed(true);  // layer 0 on top, as in the head grid
  restyle();
  split->addWidget(m_layers);
  split->addWidget(m_heads);
  v->addWidget(split, 1);

  connect(m_target, &QLineEdit::editingFinished, this, &Panel::settingsChanged);
  connect(m_other, &QLineEdit::editingFinished, this, &Panel::settingsChanged);
  // A click on a layer's bars selects that layer in every panel.
  connect(m_layers, &QCustomPlot::plottableClick, this,
          [this](QCPAbstractPlottable* p, int index, QMouseEvent*) {
            if (auto* b = qobject_cast<QCPBars*>(p))
              m_selection->setLayer(static_cast<int>(b->data()->at(index)->key));
          });
  m_layers->setInteractions(QCP::iSelectPlottables);
}

void AttributionPanel::restyle() {
  const Theme theme = currentTheme();
  const PlotSeries series[2] = {PlotSeries::Primary, PlotSeries::Secondary};
  for (int i = 0; i < 2; ++i) barsOf(m_layers, i)->setBrush(seriesColor(series[i], theme));
  applyColorScaleTheme(m_scale, theme);
  applyPlotTheme(m_layers, theme);
  applyPlotTheme(m_heads, theme);
}

void AttributionPanel::changeEvent(QEvent* e) {
  Panel::changeEvent(e);
  // applyTheme sets the application palette; the plots' own colours follow.
  if (e->type() == QEvent::PaletteChange) restyle();
}

QList<QWidget*> AttributionPanel::figureWidgets() const {
  return {m_layers, m_heads};
}

void AttributionPanel::applyTo(ViewState& state) const {
  state.attribution.target = m_target->text().toStdString();
  state.attribution.other = m_other->text().toStdString();
}

void AttributionPanel::applyState(const AttributionSettings& settings) {
  const QSignalBlocker b1(m_target), b2(m_other);
  m_target->setText(QString::fromStdString(settings.target));
  m_other->setText(QString::fromStdString(settings.other));
}

QString AttributionPanel::summaryText() const {
  return m_summary->text();
}

void AttributionPanel::clearData() {
  Panel::clearData();
  for (int i = 0; i < 2; ++i) barsOf(m_layers, i)->data()->clear();
  m_layers->replot();
  m_map->data()->clear();
  m_map->data()->setSize(0, 0);
  m_heads->replot();
  m_summary->clear();
}

void AttributionPanel::showSnapshot(const SnapshotPtr& snapshot) {
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (!s.attribution) {
    for (int i = 0; i < 2; ++i) barsOf(m_layers, i)->data()->clear();
    m_layers->replot();
    m_map->data()->setSize(0, 0);
    m_heads->replot();
    m_summary->setText(s.attributionError);
    return;
  }
  const rt::ana::Attribution& a = *s.attribution;
  QString what = tr("logit(\"%1\")").arg(s.attributionTargetText);
  if (a.other >= 0) what += tr(" - logit(\"%1\")").arg(s.attributionOtherText);
  QString text = tr("%1 at token #%2: terms sum to %3, the model's value is %4 (embedding %5, "
                    "constant terms %6).")
                     .arg(what)
                     .arg(a.position)
                     .arg(a.total(), 0, 'g', 5)
                     .arg(a.logit, 0, 'g', 5)
                     .arg(a.embed, 0, 'g', 3)
                     .arg(a.bias, 0, 'g', 3);
  if (a.softcapped)
    text += tr(" The model soft-caps its logits: these are before the cap (after it: %1).")
                .arg(a.modelLogit, 0, 'g', 5);
  m_summary->setText(text);
  showLayers(s);
  showHeads(s);
}

void AttributionPanel::showLayers(const Snapshot& s) {
  const rt::ana::Attribution& a = *s.attribution;
  const std::vector<double>* terms[2] = {&a.attn, &a.mlp};
  double lo = 0, hi = 0;
  for (int i = 0; i < 2; ++i) {
    QVector<double> x(a.nLayer), y(a.nLayer);
    for (int l = 0; l < a.nLayer; ++l) {
      x[l] = l;
      y[l] = (*terms[i])[l];
      lo = std::min(lo, y[l]);
      hi = std::max(hi, y[l]);
    }
    barsOf(m_layers, i)->setData(x, y);
  }
  m_layers->xAxis->setRange(-0.5, a.nLayer - 0.5);
  const double pad = 0.08 * std::max(1e-6, hi - lo);
  m_layers->yAxis->setRange(lo - pad, hi + pad);
  m_layers->replot();
}

void AttributionPanel::showHeads(const Snapshot& s) {
  const rt::ana::Attribution& a = *s.attribution;
  m_map->data()->setSize(a.nHead, a.nLayer);
  m_map->data()->setRange(QCPRange(0, std::max(1, a.nHead - 1)),
                          QCPRange(0, std::max(1, a.nLayer - 1)));
  double m = 1e-9;
  for (int l = 0; l < a.nLayer; ++l)
    for (int h = 0; h < a.nHead; ++h) {
      m_map->data()->setCell(h, l, a.head(l, h));
      m = std::max(m, std::fabs(a.head(l, h)));
    }
  m_map->setDataRange(QCPRange(-m, m));  // diverging: 0 is white
  m_heads->xAxis->setRange(-0.5, a.nHead - 0.5);
  m_heads->yAxis->setRange(-0.5, a.nLayer - 0.5);
  m_heads->replot();
}

}  // namespace ll::ui
