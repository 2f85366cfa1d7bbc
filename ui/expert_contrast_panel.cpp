// The Expert contrast panel: draws a Snapshot's ExpertContrastResult (computed on the worker) and
// turns its picks into router edits.
#include "ui/expert_contrast_panel.h"

#include "runtime/analysis/routing_stats.h"
#include "ui/narrow.h"
#include "ui/selection_model.h"
#include "ui/theme.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace ll::ui {

namespace {

std::vector<std::string> linesOf(const QPlainTextEdit* e) {
  std::vector<std::string> out;
  for (const QString& line : e->toPlainText().split('\n', Qt::SkipEmptyParts))
    if (!line.trimmed().isEmpty()) out.push_back(line.toStdString());
  return out;
}

QString joined(const std::vector<std::string>& lines) {
  QStringList l;
  for (const auto& s : lines) l << QString::fromStdString(s);
  return l.join('\n');
}

QPlainTextEdit* promptEdit(QWidget* parent, const QString& placeholder) {
  auto* e = new QPlainTextEdit(parent);
  e->setPlaceholderText(placeholder);
  e->setTabChangesFocus(true);
  const int line = e->fontMetrics().lineSpacing();
  e->setMinimumHeight(2 * line + 10);
  e->setMaximumHeight(4 * line + 10);
  e->setMinimumWidth(60);
  return e;
}

QString intList(const std::vector<int>& v) {
  QStringList l;
  for (int x : v) l << QString::number(x);
  return l.join(QStringLiteral(", "));
}

}  // namespace

ExpertContrastPanel::ExpertContrastPanel(SelectionModel* selection, QWidget* parent)
    : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  buildInputs(v);
  buildPlot(v);
  buildActions(v);
  restyle();
  clearData();
  connectControls();
}

// The prompt sets, τ, the pick layers and Compute; the status line.
void ExpertContrastPanel::buildInputs(QVBoxLayout* v) {
  auto* sets = new QGridLayout;
  m_task = promptEdit(this, tr("task prompts, one per line"));
  m_task->setToolTip(QString::fromUtf8(rt::ana::kContrastTaskHelp));
  m_neutral = promptEdit(this, tr("neutral prompts, one per line"));
  m_neutral->setToolTip(QString::fromUtf8(rt::ana::kContrastNeutralHelp));
  sets->addWidget(new QLabel(tr("Task"), this), 0, 0, Qt::AlignTop);
  sets->addWidget(m_task, 0, 1);
  sets->addWidget(new QLabel(tr("Neutral"), this), 1, 0, Qt::AlignTop);
  sets->addWidget(m_neutral, 1, 1);
  sets->setColumnStretch(1, 1);
  v->addLayout(sets);

  const rt::ana::ExpertContrastRequest defaults;
  auto* bar = new QHBoxLayout;
  m_tau = new QDoubleSpinBox(this);
  m_tau->setRange(-1.0, 1.0);
  m_tau->setSingleStep(0.01);
  m_tau->setDecimals(3);
  m_tau->setValue(defaults.tau);
  m_tau->setToolTip(QString::fromUtf8(rt::ana::kContrastTauHelp));
  m_layers = new QComboBox(this);
  m_layers->addItems({tr("all layers"), tr("middle third")});  // order = ContrastLayers
  m_layers->setToolTip(QString::fromUtf8(rt::ana::kContrastLayersHelp));
  allowNarrow(m_layers, 70);
  m_compute = new QPushButton(tr("Compute"), this);
  m_compute->setToolTip(tr("Run every prompt of both sets once and compare their routing"));
  bar->addWidget(new QLabel(QStringLiteral("τ"), this));
  bar->addWidget(m_tau);
  bar->addWidget(m_layers, 1);
  bar->addWidget(m_compute);
  v->addLayout(bar);
  m_status = new QLabel(this);
  m_status->setWordWrap(true);
  m_status->setTextFormat(Qt::PlainText);
  v->addWidget(m_status);
}

// The Δ heatmap with its colour bar and the marks; the summary of the picks.
void ExpertContrastPanel::buildPlot(QVBoxLayout* v) {
  m_plot = new QCustomPlot(this);
  m_plot->setMinimumHeight(110);
  m_map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
  m_map->setInterpolate(false);
  m_scale = new QCPColorScale(m_plot);
  m_plot->plotLayout()->addElement(0, 1, m_scale);
  m_scale->setBarWidth(8);
  m_scale->axis()->setLabel(QStringLiteral("Δ"));
  m_map->setColorScale(m_scale);  // the map takes the scale's gradient: set it after
  m_map->setGradient(divergingGradient());
  m_marks = m_plot->addGraph();
  m_marks->setLineStyle(QCPGraph::lsNone);
  m_marks->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, 9));
  m_marks->setName(tr("Δ > τ"));
  m_plot->xAxis->setLabel(tr("expert"));
  m_plot->yAxis->setLabel(tr("layer"));
  m_plot->yAxis->setRangeReversed(true);  // layer 0 on top, as the routing view
  for (QCPAxis* ax : {m_plot->xAxis, m_plot->yAxis}) {
    QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
    ticker->setTickStep(1.0);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    ax->setTicker(ticker);
    ax->setSubTicks(false);
  }
  v->addWidget(m_plot, 1);
  m_summary = new QLabel(this);
  m_summary->setWordWrap(true);
  m_summary->setTextFormat(Qt::PlainText);
  v->addWidget(m_summary);
}

// The one-click actions, λ and "middle layers only", the over-forced warning.
void ExpertContrastPanel::buildActions(QVBoxLayout* v) {
  const rt::ana::ExpertContrastRequest defaults;
  auto* actions = new QHBoxLayout;
  m_off = new QPushButton(tr("Switch off"), this);
  m_off->setToolTip(tr("Ban the marked experts (router logit −∞ before top-k)"));
  m_force = new QPushButton(tr("Hard force"), this);
  m_force->setToolTip(tr("Set the marked experts' router logits to max(z) + ε"));
  m_promote = new QPushButton(tr("Soft promotion"), this);
  m_promote->setToolTip(tr("Add λ·std(z) to the marked experts' router logits"));
  actions->addWidget(m_off);
  actions->addWidget(m_force);
  actions->addWidget(m_promote);
  actions->addStretch(1);
  v->addLayout(actions);
  auto* promo = new QHBoxLayout;
  m_lambda = new QDoubleSpinBox(this);
  m_lambda->setRange(-8.0, 8.0);
  m_lambda->setSingleStep(0.1);
  m_lambda->setValue(defaults.lambda);
  m_lambda->setToolTip(QString::fromUtf8(rt::ana::kContrastLambdaHelp));
  m_middleOnly = new QCheckBox(tr("middle layers only"), this);
  m_middleOnly->setChecked(defaults.promoteMiddleOnly);
  m_middleOnly->setToolTip(tr("Soft promotion only in the middle third of the layers"));
  promo->addWidget(new QLabel(QStringLiteral("λ"), this));
  promo->addWidget(m_lambda);
  promo->addWidget(m_middleOnly, 1);
  v->addLayout(promo);
  m_warning = new QLabel(this);
  m_warning->setWordWrap(true);
  m_warning->setTextFormat(Qt::PlainText);
  v->addWidget(m_warning);
}

void ExpertContrastPanel::connectControls() {
  connect(m_compute, &QPushButton::clicked, this, [this] {
    m_taskSet = linesOf(m_task);
    m_neutralSet = linesOf(m_neutral);
    updateCompute();
    emit settingsChanged();
  });
  // Compute is on while the typed sets are not the ones the heatmap shows.
  connect(m_task, &QPlainTextEdit::textChanged, this, &ExpertContrastPanel::updateCompute);
  connect(m_neutral, &QPlainTextEdit::textChanged, this, &ExpertContrastPanel::updateCompute);
  connect(m_tau, &QDoubleSpinBox::valueChanged, this, &Panel::settingsChanged);
  connect(m_layers, &QComboBox::currentIndexChanged, this, &Panel::settingsChanged);
  connect(m_lambda, &QDoubleSpinBox::valueChanged, this, &Panel::settingsChanged);
  connect(m_middleOnly, &QCheckBox::toggled, this, &Panel::settingsChanged);
  connect(m_off, &QPushButton::clicked, this,
          [this] { apply(rt::ana::ContrastAction::SwitchOff); });
  connect(m_force, &QPushButton::clicked, this,
          [this] { apply(rt::ana::ContrastAction::HardForce); });
  connect(m_promote, &QPushButton::clicked, this,
          [this] { apply(rt::ana::ContrastAction::SoftPromotion); });
  // A click on a cell selects its layer in every panel.
  connect(m_plot, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
    if (!m_snapshot || !m_snapshot->contrast) return;
    const int l = static_cast<int>(std::lround(m_plot->yAxis->pixelToCoord(e->pos().y())));
    if (l >= 0 && l < m_snapshot->contrast->nLayer) m_selection->setLayer(l);
  });
}

void ExpertContrastPanel::restyle() {
  const ThemeColors& c = themeColors(currentTheme());
  QCPAxis* ax = m_scale->axis();
  ax->setBasePen(QPen(c.axis));
  ax->setTickPen(QPen(c.axis));
  ax->setSubTickPen(QPen(c.axis));
  ax->setTickLabelColor(c.text);
  ax->setLabelColor(c.text);
  m_marks->setPen(QPen(seriesColor(PlotSeries::Tertiary, currentTheme()), 2));
  applyPlotTheme(m_plot, currentTheme());
}

void ExpertContrastPanel::changeEvent(QEvent* e) {
  Panel::changeEvent(e);
  if (e->type() == QEvent::PaletteChange) restyle();  // applyTheme set a new palette
}

QList<QWidget*> ExpertContrastPanel::figureWidgets() const {
  return {m_plot};
}

QString ExpertContrastPanel::status() const {
  return m_status->text();
}

QString ExpertContrastPanel::warning() const {
  return m_warning->text();
}

void ExpertContrastPanel::applyTo(ViewState& state) const {
  rt::ana::ExpertContrastRequest& rq = state.contrast;
  if (m_nExpert > 0) {  // a dense model runs nothing (the panel says why)
    rq.task = m_taskSet;
    rq.neutral = m_neutralSet;
  }
  rq.tau = static_cast<float>(m_tau->value());
  rq.layers = static_cast<rt::ana::ContrastLayers>(std::clamp(m_layers->currentIndex(), 0, 1));
  rq.lambda = static_cast<float>(m_lambda->value());
  rq.promoteMiddleOnly = m_middleOnly->isChecked();
}

void ExpertContrastPanel::applyState(const rt::ana::ExpertContrastRequest& rq) {
  const QSignalBlocker b1(m_tau), b2(m_layers), b3(m_lambda), b4(m_middleOnly);
  m_taskSet = rq.task;
  m_neutralSet = rq.neutral;
  m_task->setPlainText(joined(rq.task));
  m_neutral->setPlainText(joined(rq.neutral));
  m_tau->setValue(rq.tau);
  m_layers->setCurrentIndex(static_cast<int>(rq.layers));
  m_lambda->setValue(rq.lambda);
  m_middleOnly->setChecked(rq.promoteMiddleOnly);
  updateCompute();
}

void ExpertContrastPanel::modelChanged(const ModelInfo& info) {
  m_nExpert = info.nExpert;
  m_modelName = info.name;
  for (QWidget* w :
       std::initializer_list<QWidget*>{m_task, m_neutral, m_tau, m_layers, m_lambda, m_middleOnly})
    w->setEnabled(m_nExpert > 0);
  updateCompute();
  clearData();
}

void ExpertContrastPanel::clearData() {
  Panel::clearData();
  m_map->data()->clear();
  m_marks->data()->clear();
  m_plot->replot();
  m_plot->setVisible(false);  // no axes or colour scale without a result
  m_summary->clear();
  m_warning->clear();
  m_status->setText(
      m_nExpert > 0 || m_modelName.isEmpty()
          ? tr("Give task and neutral prompts (one per line) and press Compute.")
          : tr("Expert contrast compares MoE routing: %1 has no experts.").arg(m_modelName));
  updateButtons();
}

void ExpertContrastPanel::updateCompute() {
  const bool edited = linesOf(m_task) != m_taskSet || linesOf(m_neutral) != m_neutralSet;
  m_compute->setEnabled(m_nExpert > 0 && edited);
}

void ExpertContrastPanel::updateButtons() {
  const bool any = m_snapshot && m_snapshot->contrast && !m_snapshot->contrast->picked.empty();
  for (QPushButton* b : {m_off, m_force}) b->setEnabled(any);
  m_promote->setEnabled(
      any && !rt::ana::contrastEdits(*m_snapshot->contrast, rt::ana::ContrastAction::SoftPromotion)
                  .empty());
}

void ExpertContrastPanel::apply(rt::ana::ContrastAction action) {
  if (!m_snapshot || !m_snapshot->contrast) return;
  const auto edits = rt::ana::contrastEdits(*m_snapshot->contrast, action);
  if (edits.empty()) return;
  const QString what = action == rt::ana::ContrastAction::SwitchOff   ? tr("switch off")
                       : action == rt::ana::ContrastAction::HardForce ? tr("hard force")
                                                                      : tr("soft promotion");
  emit editsRequested(edits, what);
}

void ExpertContrastPanel::showSnapshot(const SnapshotPtr& snapshot) {
  clearData();
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (!s.contrastError.isEmpty()) {
    m_status->setText(s.contrastError);
    return;
  }
  if (!s.contrast) {
    if (m_nExpert > 0 && contrastWanted(s.state.contrast))
      m_status->setText(s.trace ? tr("Running %1 task and %2 neutral prompts...")
                                      .arg(s.state.contrast.task.size())
                                      .arg(s.state.contrast.neutral.size())
                                : tr("The sets run with the next analysis: type a prompt."));
    return;
  }
  const rt::ana::ExpertContrastResult& r = *s.contrast;
  m_status->setText(tr("Routing frequency on %1 task minus %2 neutral prompts, without the "
                       "routing panel's edits (they are chosen from it)")
                        .arg(r.nTask)
                        .arg(r.nNeutral));
  const int L = r.nLayer, E = r.nExpert;
  m_map->data()->setSize(E, L);
  m_map->data()->setRange(QCPRange(0, std::max(1, E - 1)), QCPRange(0, std::max(1, L - 1)));
  double m = 1e-6;
  for (int l = 0; l < L; ++l)
    for (int e = 0; e < E; ++e) {
      m_map->data()->setCell(e, l, r.at(l, e));
      m = std::max(m, std::fabs(double(r.at(l, e))));
    }
  m_map->setDataRange(QCPRange(-m, m));  // diverging: 0 is the light centre
  QVector<double> xs, ys;
  QStringList picks;
  for (auto [l, e] : r.picked) {
    xs << e;
    ys << l;
    picks << QStringLiteral("L%1 E%2 (%3)").arg(l).arg(e).arg(r.at(l, e), 0, 'f', 3);
  }
  m_marks->setData(xs, ys);
  m_plot->xAxis->setRange(-0.5, E - 0.5);
  m_plot->yAxis->setRange(-0.5, L - 0.5);
  m_plot->setVisible(true);
  m_plot->replot();
  const QString scope = r.request.layers == rt::ana::ContrastLayers::Middle
                            ? tr("layers %1").arg(intList(r.pickLayers))
                            : tr("all layers");
  m_summary->setText(picks.isEmpty()
                         ? tr("No expert with Δ > %1 in %2.").arg(r.request.tau).arg(scope)
                         : tr("%1 marked (Δ > %2, %3): %4")
                               .arg(picks.size())
                               .arg(r.request.tau)
                               .arg(scope, picks.join(QStringLiteral(", "))));
  const auto over = rt::ana::overForcedLayers(
      rt::ana::contrastEdits(r, rt::ana::ContrastAction::HardForce), r.nExpertUsed);
  if (!over.empty())
    m_warning->setText(tr("Hard force would force more experts than the model uses per token "
                          "(k = %1) in layer(s) %2: the model derails there.")
                           .arg(r.nExpertUsed)
                           .arg(intList(over)));
  updateButtons();
}

}  // namespace ll::ui
