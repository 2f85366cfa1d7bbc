// The Knockout effect panel: draws a Snapshot's KnockoutReadout (computed on the worker).
#include "ui/knockout_panel.h"

#include "ui/theme.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

namespace ll::ui {

namespace {
QString layerText(int begin, int end) {
  return end - begin == 1 ? QString::number(begin)
                          : QStringLiteral("%1-%2").arg(begin).arg(end - 1);
}
}  // namespace

KnockoutPanel::KnockoutPanel(SelectionModel* selection, QWidget* parent)
    : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  m_summary = new QLabel(this);
  m_summary->setWordWrap(true);
  m_summary->setTextFormat(Qt::PlainText);  // token text shows literally
  v->addWidget(m_summary);
  auto* bar = new QHBoxLayout;
  const rt::ana::KnockoutReadoutRequest defaults;
  m_sweep = new QCheckBox(tr("Layer sweep"), this);
  m_sweep->setChecked(defaults.sweep);
  m_sweep->setToolTip(
      tr("The same knockout in a window centred on each layer in turn (one "
         "extra pass per layer)"));
  m_window = new QSpinBox(this);
  m_window->setRange(1, 999);
  m_window->setValue(defaults.window);
  m_window->setPrefix(tr("window "));
  m_window->setToolTip(tr("Layers in each sweep window (§10: 9)"));
  bar->addWidget(m_sweep);
  bar->addWidget(m_window);
  bar->addStretch(1);
  v->addLayout(bar);

  m_plot = new QCustomPlot(this);
  m_plot->setMinimumHeight(110);
  m_plot->xAxis->setLabel(tr("window centre layer"));
  m_plot->yAxis->setLabel(tr("Δp of the answer (%)"));
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  m_plot->xAxis->setTicker(ticker);
  m_plot->xAxis->setSubTicks(false);
  m_plot->yAxis->ticker()->setTickCount(4);
  QCPGraph* g = m_plot->addGraph();
  setPlotSeries(g, PlotSeries::Primary);
  g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
  v->addWidget(m_plot, 1);
  applyPlotTheme(m_plot, currentTheme());
  clearData();

  connect(m_sweep, &QCheckBox::toggled, this, &Panel::settingsChanged);
  connect(m_window, &QSpinBox::valueChanged, this, &Panel::settingsChanged);
}

QList<QWidget*> KnockoutPanel::figureWidgets() const {
  return {m_plot};
}

QString KnockoutPanel::summary() const {
  return m_summary->text();
}

void KnockoutPanel::applyTo(ViewState& state) const {
  state.knockoutReadout.sweep = m_sweep->isChecked();
  state.knockoutReadout.window = m_window->value();
}

void KnockoutPanel::applyState(const rt::ana::KnockoutReadoutRequest& request) {
  const QSignalBlocker b1(m_sweep), b2(m_window);
  m_sweep->setChecked(request.sweep);
  m_window->setValue(request.window);
}

void KnockoutPanel::clearData() {
  Panel::clearData();
  m_plot->graph(0)->data()->clear();
  m_plot->replot();
  m_summary->setText(
      tr("No knockout: set one in the Attention panel (from and to tokens, "
         "layers) to see its effect on the first answer token."));
}

void KnockoutPanel::showSnapshot(const SnapshotPtr& snapshot) {
  clearData();
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (!s.state.knockout) return;
  if (!s.knockoutEffectError.isEmpty()) {
    m_summary->setText(s.knockoutEffectError);
    return;
  }
  if (!s.knockoutEffect) {
    if (s.trace) m_summary->setText(tr("Running the prompt without the knockout..."));
    return;
  }
  const rt::ana::KnockoutReadout& r = *s.knockoutEffect;
  const rt::ana::KnockoutResult& e = r.effect;
  m_summary->setText(tr("Knockout in layers %1: p(\"%2\") %3 → %4 (%5%6%)")
                         .arg(layerText(e.layerBegin, e.layerEnd), s.knockoutAnswerText)
                         .arg(e.pBase, 0, 'g', 4)
                         .arg(e.pNew, 0, 'g', 4)
                         .arg(e.relativeChange >= 0 ? QStringLiteral("+") : QString())
                         .arg(e.relativeChange, 0, 'f', 2));
  const int L = static_cast<int>(r.sweep.size());
  if (L == 0) return;
  QVector<double> xs(L), ys(L);
  double lo = 0, hi = 0;
  for (int l = 0; l < L; ++l) {
    xs[l] = l;
    ys[l] = r.sweep[size_t(l)];
    lo = std::min(lo, ys[l]);
    hi = std::max(hi, ys[l]);
  }
  m_plot->graph(0)->setData(xs, ys);
  m_plot->xAxis->setRange(-0.5, L - 0.5);
  const double pad = 0.08 * std::max(1e-6, hi - lo);
  m_plot->yAxis->setRange(lo - pad, hi + pad);
  m_plot->replot();
}

}  // namespace ll::ui
