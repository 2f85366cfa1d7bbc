#include "ui/entropy_panel.h"

#include "ui/plot_panel.h"
#include "ui/selection_model.h"
#include "ui/theme.h"

#include <qcustomplot.h>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QVBoxLayout>

namespace ll::ui {

namespace {

QCustomPlot* makeLayerPlot(QWidget* parent, const QString& yLabel, PlotSeries series) {
  auto* p = new QCustomPlot(parent);
  p->setMinimumHeight(120);
  p->addGraph();
  setPlotSeries(p->graph(0), series);
  p->graph(0)->setPen(QPen(seriesColor(series, currentTheme()), 2));
  p->graph(0)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
  p->graph(0)->setSelectable(QCP::stSingleData);
  p->xAxis->setLabel(QObject::tr("layer (0 = embeddings, l + 1 = after layer l)"));
  p->yAxis->setLabel(yLabel);
  p->setInteractions(QCP::iSelectPlottables);
  // Layers are whole numbers: a tick every layer, or every 2, 5, 10... when there are many
  // (never 0.5 on a 2-layer model).
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  p->xAxis->setTicker(ticker);
  p->xAxis->setSubTicks(false);
  applyPlotTheme(p, currentTheme());
  return p;
}

void setLayerData(QCustomPlot* p, const std::vector<double>& y) {
  QVector<double> xs(static_cast<int>(y.size())), ys(xs.size());
  for (int i = 0; i < xs.size(); ++i) {
    xs[i] = i;
    ys[i] = y[i];
  }
  p->graph(0)->setData(xs, ys);
  p->rescaleAxes();
  p->xAxis->setRange(-0.5, std::max(0.5, xs.size() - 0.5));
  const QCPRange r = p->yAxis->range();
  p->yAxis->setRange(std::min(0.0, r.lower), r.upper * 1.1 + 1e-6);
  p->replot();
}

}  // namespace

EntropyPanel::EntropyPanel(SelectionModel* selection, QWidget* parent) : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  m_lens = makeLayerPlot(this, tr("lens entropy (nats)"), PlotSeries::Primary);
  // Captions wrap rather than widening the dock on a small screen.
  auto caption = [this](const QString& text) {
    auto* l = new QLabel(text, this);
    l->setWordWrap(true);
    return l;
  };
  v->addWidget(caption(tr("Logit-lens entropy per layer for the selected token")));
  v->addWidget(m_lens, 1);
  m_output = new PlotPanel(this);
  m_output->plot()->graph(0)->setSelectable(QCP::stSingleData);
  m_output->plot()->setInteractions(QCP::iSelectPlottables | QCP::iRangeDrag | QCP::iRangeZoom);
  v->addWidget(caption(tr("Output entropy per token")));
  v->addWidget(m_output, 1);
  auto* row = new QHBoxLayout;
  m_target = new QSpinBox(this);
  m_target->setRange(-1, 0);
  m_target->setSpecialValueText(tr("model's top-1"));
  m_target->setValue(-1);
  m_targetLabel = new QLabel(this);
  m_targetLabel->setTextFormat(Qt::PlainText);  // token text is shown literally ("<s>")
  m_targetLabel->setWordWrap(true);
  row->addWidget(caption(tr("Rank across layers of token id")));
  row->addWidget(m_target);
  row->addWidget(m_targetLabel, 1);
  v->addLayout(row);
  m_rank = makeLayerPlot(this, tr("rank (0 = top)"), PlotSeries::Secondary);
  v->addWidget(m_rank, 1);

  auto layerClick = [this](QCPAbstractPlottable*, int index, QMouseEvent*) {
    m_selection->setLayer(std::max(0, index - 1));
  };
  connect(m_lens, &QCustomPlot::plottableClick, this, layerClick);
  connect(m_rank, &QCustomPlot::plottableClick, this, layerClick);
  connect(m_output->plot(), &QCustomPlot::plottableClick, this,
          [this](QCPAbstractPlottable*, int index, QMouseEvent*) { m_selection->setToken(index); });
  connect(m_target, &QSpinBox::valueChanged, this, &Panel::settingsChanged);
}

QList<QWidget*> EntropyPanel::figureWidgets() const {
  return {m_lens, m_output->plot(), m_rank};
}

void EntropyPanel::modelChanged(const ModelInfo& info) {
  m_target->setRange(-1, std::max(0, info.nVocab - 1));
  m_target->setValue(-1);
}

void EntropyPanel::clearData() {
  Panel::clearData();
  for (QCustomPlot* p : {m_lens, m_output->plot(), m_rank}) {
    for (int i = 0; i < p->graphCount(); ++i) p->graph(i)->data()->clear();
    p->replot();
  }
  m_targetLabel->clear();
}

void EntropyPanel::setRankTarget(int id) {
  m_target->setValue(id);
}

void EntropyPanel::applyTo(ViewState& state) const {
  state.rankTarget = m_target->value();
}

void EntropyPanel::showSnapshot(const SnapshotPtr& snapshot) {
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  setLayerData(m_lens, std::vector<double>(s.lensEntropy.begin(), s.lensEntropy.end()));
  m_lens->graph(0)->setName(tr("token #%1").arg(s.token));
  std::vector<double> out(s.outputEntropy.begin(), s.outputEntropy.end());
  m_output->setCurve(out, s.tokens, tr("output entropy (nats)"));
  setLayerData(m_rank, std::vector<double>(s.lensRank.begin(), s.lensRank.end()));
  m_targetLabel->setText(tr("following \"%1\" (id %2)").arg(s.rankTokenText).arg(s.rankToken));
}

}  // namespace ll::ui
