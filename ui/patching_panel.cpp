// The Patching panel: draws a Snapshot's PatchingResult (computed on the worker) as a layer x
// token map of the normalised effect and a layer x head map at the last token.
#include "ui/patching_panel.h"

#include "ui/narrow.h"
#include "ui/selection_model.h"
#include "ui/theme.h"
#include "visualizers/qt/token_ticks.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace ll::ui {

namespace ana = rt::ana;

namespace {

QCustomPlot* makeMapPlot(QWidget* parent, const QString& xLabel, QCPColorMap** map,
                         QCPColorScale** scale) {
  auto* p = new QCustomPlot(parent);
  p->setMinimumHeight(90);
  *map = new QCPColorMap(p->xAxis, p->yAxis);
  (*map)->setInterpolate(false);
  *scale = new QCPColorScale(p);
  p->plotLayout()->addElement(0, 1, *scale);
  (*scale)->setBarWidth(8);
  (*scale)->axis()->ticker()->setTickCount(3);
  (*map)->setColorScale(*scale);  // the map takes the scale's gradient: set it after
  (*map)->setGradient(divergingGradient());
  p->xAxis->setLabel(xLabel);
  p->yAxis->setLabel(QObject::tr("layer"));
  p->yAxis->setRangeReversed(true);  // layer 0 on top, as in the attribution and head grids
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  p->yAxis->setTicker(ticker);
  p->yAxis->setSubTicks(false);
  return p;
}

// A colour map of rows x cols values, symmetric range around 0 (the diverging map's white).
void fillMap(QCPColorMap* map, const std::vector<float>& v, int rows, int cols) {
  map->data()->setSize(cols, rows);
  map->data()->setRange(QCPRange(0, std::max(1, cols - 1)), QCPRange(0, std::max(1, rows - 1)));
  double m = 1e-6;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const double x = v[size_t(r) * cols + c];
      map->data()->setCell(c, r, x);
      if (std::isfinite(x)) m = std::max(m, std::fabs(x));
    }
  map->setDataRange(QCPRange(-m, m));
}

}  // namespace

PatchingPanel::PatchingPanel(SelectionModel* selection, QWidget* parent)
    : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  // The controls scroll in a short dock (the window must fit 1024x700).
  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  scroll->setWidget(buildControls());
  scroll->setMinimumHeight(60);
  v->addWidget(scroll);
  m_caption = new QLabel(this);
  m_caption->setWordWrap(true);
  m_caption->setTextFormat(Qt::PlainText);  // token text shows literally ("<s>")
  v->addWidget(m_caption);
  m_status = new QLabel(this);
  m_status->setWordWrap(true);
  v->addWidget(m_status);

  auto* split = new QSplitter(Qt::Vertical, this);
  m_plot = makeMapPlot(split, tr("token"), &m_map, &m_scale);
  m_scale->axis()->setLabel(tr("effect"));
  m_ticks = new vis::TokenTicks(m_plot, m_plot->xAxis);
  m_headPlot = makeMapPlot(split, tr("head (last token)"), &m_headMap, &m_headScale);
  split->addWidget(m_plot);
  split->addWidget(m_headPlot);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  v->addWidget(split, 1);
  restyle();
  clearData();

  // Hover reads a cell out; a click selects its layer and token in every panel.
  m_plot->setMouseTracking(true);
  connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* e) {
    int l = 0, t = 0;
    if (cellAt(e->position(), &l, &t))
      QToolTip::showText(e->globalPosition().toPoint(), readout(l, t), m_plot);
    else
      QToolTip::hideText();
  });
  connect(m_plot, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
    int l = 0, t = 0;
    if (!cellAt(e->position(), &l, &t)) return;
    m_selection->setLayer(l);
    m_selection->setToken(t);
  });
  m_headPlot->setMouseTracking(true);
  connect(m_headPlot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* e) {
    if (!m_snapshot || !m_snapshot->patching || m_snapshot->patching->headEffect.empty()) return;
    const ana::PatchingResult& r = *m_snapshot->patching;
    const int h = static_cast<int>(std::lround(m_headPlot->xAxis->pixelToCoord(e->position().x())));
    const int l = static_cast<int>(std::lround(m_headPlot->yAxis->pixelToCoord(e->position().y())));
    if (h < 0 || h >= r.nHead || l < 0 || l >= r.nLayer) return QToolTip::hideText();
    QToolTip::showText(e->globalPosition().toPoint(),
                       tr("layer %1, head %2 at the last token: effect %3 (metric %4)")
                           .arg(l)
                           .arg(h)
                           .arg(r.headEffect[size_t(l) * r.nHead + h], 0, 'g', 4)
                           .arg(r.headMetric[size_t(l) * r.nHead + h], 0, 'g', 5),
                       m_headPlot);
  });
}

QWidget* PatchingPanel::buildControls() {
  auto* box = new QWidget;
  auto* g = new QGridLayout(box);
  g->setContentsMargins(0, 0, 0, 0);
  m_enabled = new QCheckBox(tr("Compute"), box);
  m_enabled->setToolTip(
      tr("Runs the corrupted prompt once per layer and token (and per head) "
         "with one component patched, whenever the prompt or settings change"));
  m_component = new QComboBox(box);  // item order = ana::PatchComponent
  m_component->addItems({tr("residual stream"), tr("attention output"), tr("MLP output")});
  allowNarrow(m_component, 90);
  g->addWidget(m_enabled, 0, 0);
  g->addWidget(m_component, 0, 1, 1, 3);
  m_corrupt = new QLineEdit(box);
  m_corrupt->setPlaceholderText(tr("corrupted prompt, same token count"));
  m_corrupt->setToolTip(
      tr("The corrupted run: the prompt with a word changed. It must give as "
         "many tokens as the prompt."));
  g->addWidget(new QLabel(tr("Corrupt"), box), 1, 0);
  g->addWidget(m_corrupt, 1, 1, 1, 3);
  m_noise = new QCheckBox(tr("noise on #"), box);
  m_noise->setToolTip(
      tr("ROME-style corruption instead: Gaussian noise (3 sigma of the "
         "embedding matrix, fixed seed) on these tokens' embeddings"));
  m_noiseBegin = new QSpinBox(box);
  m_noiseEnd = new QSpinBox(box);
  for (QSpinBox* sb : {m_noiseBegin, m_noiseEnd}) {
    sb->setRange(0, 99999);
    sb->setKeyboardTracking(false);
  }
  g->addWidget(m_noise, 2, 0);
  g->addWidget(m_noiseBegin, 2, 1);
  g->addWidget(new QLabel(tr("to #"), box), 2, 2);
  g->addWidget(m_noiseEnd, 2, 3);
  m_target = new QLineEdit(box);
  m_target->setPlaceholderText(tr("clean top-1"));
  m_target->setToolTip(tr("Target token a: its id or its text"));
  m_other = new QLineEdit(box);
  m_other->setPlaceholderText(tr("corrupt top-1"));
  m_other->setToolTip(tr("Other token b of logit(a) - logit(b): its id or its text"));
  g->addWidget(new QLabel(tr("Token"), box), 3, 0);
  g->addWidget(m_target, 3, 1);
  g->addWidget(new QLabel(tr("vs"), box), 3, 2);
  g->addWidget(m_other, 3, 3);
  m_metric = new QComboBox(box);  // item order = ana::PatchMetric
  m_metric->addItems({tr("logit diff"), tr("probability")});
  m_direction = new QComboBox(box);  // item order = ana::PatchDirection
  m_direction->addItems({tr("denoise"), tr("noise")});
  m_direction->setToolTip(
      tr("denoise: clean values into the corrupted run; noise: corrupted "
         "values into the clean run"));
  allowNarrow(m_metric, 70);
  allowNarrow(m_direction, 70);
  g->addWidget(m_metric, 4, 0, 1, 2);
  g->addWidget(m_direction, 4, 2, 1, 2);
  g->setColumnStretch(1, 1);
  g->setColumnStretch(3, 1);

  connect(m_enabled, &QCheckBox::toggled, this, &Panel::settingsChanged);
  connect(m_noise, &QCheckBox::toggled, this, &Panel::settingsChanged);
  for (QLineEdit* e : {m_corrupt, m_target, m_other})
    connect(e, &QLineEdit::editingFinished, this, &Panel::settingsChanged);
  for (QComboBox* c : {m_component, m_metric, m_direction})
    connect(c, &QComboBox::currentIndexChanged, this, &Panel::settingsChanged);
  for (QSpinBox* sb : {m_noiseBegin, m_noiseEnd})
    connect(sb, &QSpinBox::valueChanged, this, &Panel::settingsChanged);
  return box;
}

void PatchingPanel::restyle() {
  const Theme theme = currentTheme();
  applyColorScaleTheme(m_scale, theme);
  applyColorScaleTheme(m_headScale, theme);
  applyPlotTheme(m_plot, theme);
  applyPlotTheme(m_headPlot, theme);
}

void PatchingPanel::changeEvent(QEvent* e) {
  Panel::changeEvent(e);
  if (e->type() == QEvent::PaletteChange) restyle();
}

QList<QWidget*> PatchingPanel::figureWidgets() const {
  return {m_plot, m_headPlot};
}

QString PatchingPanel::status() const {
  return m_status->text();
}

void PatchingPanel::applyTo(ViewState& state) const {
  PatchingSettings& p = state.patching;
  p.enabled = m_enabled->isChecked();
  p.noise = m_noise->isChecked();
  p.corrupt = m_corrupt->text().toStdString();
  p.noiseBegin = m_noiseBegin->value();
  p.noiseEnd = m_noiseEnd->value() + 1;  // the spin box names the last token
  p.target = m_target->text().trimmed().toStdString();
  p.other = m_other->text().trimmed().toStdString();
  p.component = static_cast<ana::PatchComponent>(std::clamp(m_component->currentIndex(), 0, 2));
  p.metric = static_cast<ana::PatchMetric>(std::clamp(m_metric->currentIndex(), 0, 1));
  p.direction = static_cast<ana::PatchDirection>(std::clamp(m_direction->currentIndex(), 0, 1));
}

void PatchingPanel::applyState(const PatchingSettings& p) {
  const QSignalBlocker b1(m_enabled), b2(m_noise), b3(m_corrupt), b4(m_noiseBegin), b5(m_noiseEnd),
      b6(m_target), b7(m_other), b8(m_component), b9(m_metric), b10(m_direction);
  m_enabled->setChecked(p.enabled);
  m_noise->setChecked(p.noise);
  m_corrupt->setText(QString::fromStdString(p.corrupt));
  m_noiseBegin->setValue(p.noiseBegin);
  m_noiseEnd->setValue(std::max(0, p.noiseEnd - 1));
  m_target->setText(QString::fromStdString(p.target));
  m_other->setText(QString::fromStdString(p.other));
  m_component->setCurrentIndex(static_cast<int>(p.component));
  m_metric->setCurrentIndex(static_cast<int>(p.metric));
  m_direction->setCurrentIndex(static_cast<int>(p.direction));
}

void PatchingPanel::clearData() {
  Panel::clearData();
  for (QCPColorMap* m : {m_map, m_headMap}) m->data()->setSize(0, 0);
  m_ticks->setTokens({});
  m_plot->replot();
  m_headPlot->replot();
  // No axes or colour scale without a result: an empty 0..5 frame would read as data.
  m_plot->setVisible(false);
  m_headPlot->setVisible(false);
  m_caption->clear();
  m_status->setText(tr("Tick Compute to patch every layer and token (one pass each)."));
}

void PatchingPanel::showProgress(int done, int total) {
  if (m_snapshot && m_snapshot->patching) return;
  m_status->setText(tr("Patching: %1 of %2 passes...").arg(done).arg(total));
}

bool PatchingPanel::cellAt(const QPointF& pos, int* layer, int* token) const {
  if (!m_snapshot || !m_snapshot->patching) return false;
  const ana::PatchingResult& r = *m_snapshot->patching;
  if (!m_plot->axisRect()->rect().contains(pos.toPoint())) return false;
  *token = static_cast<int>(std::lround(m_plot->xAxis->pixelToCoord(pos.x())));
  *layer = static_cast<int>(std::lround(m_plot->yAxis->pixelToCoord(pos.y())));
  return *token >= 0 && *token < r.nTokens && *layer >= 0 && *layer < r.nLayer;
}

QString PatchingPanel::readout(int layer, int token) const {
  if (!m_snapshot || !m_snapshot->patching) return {};
  const ana::PatchingResult& r = *m_snapshot->patching;
  if (layer < 0 || layer >= r.nLayer || token < 0 || token >= r.nTokens) return {};
  const QString tok = token < m_snapshot->tokens.size() ? m_snapshot->tokens[token] : QString();
  QString t = tr("layer %1, token #%2 \"%3\": effect %4 (metric %5)")
                  .arg(layer)
                  .arg(token)
                  .arg(tok)
                  .arg(r.effect[size_t(layer) * r.nTokens + token], 0, 'g', 4)
                  .arg(r.metric[size_t(layer) * r.nTokens + token], 0, 'g', 5);
  if (token < r.firstDiff) t += tr("; before the first corrupted token: unchanged, not run");
  return t;
}

void PatchingPanel::showSnapshot(const SnapshotPtr& snapshot) {
  clearData();
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (!s.patchingError.isEmpty()) {
    m_status->setText(s.patchingError);
    return;
  }
  if (!s.patching) {
    if (s.state.patching.enabled && s.trace)
      m_status->setText(tr("Patching every layer and token (one pass each)..."));
    return;
  }
  const ana::PatchingResult& r = *s.patching;
  m_status->clear();
  const QString what =
      r.request.metric == ana::PatchMetric::Prob
          ? tr("p(\"%1\")").arg(s.patchingTargetText)
          : tr("logit(\"%1\") - logit(\"%2\")").arg(s.patchingTargetText, s.patchingOtherText);
  m_caption->setText(
      tr("%1 the %2: normalised effect on %3 at the last token (clean %4, corrupted %5; 1 = the "
         "clean value, 0 = the corrupted one); %6 passes")
          .arg(r.request.direction == ana::PatchDirection::Denoise ? tr("Denoising")
                                                                   : tr("Noising"))
          .arg(m_component->itemText(static_cast<int>(r.request.component)))
          .arg(what)
          .arg(r.metricClean, 0, 'g', 4)
          .arg(r.metricCorrupt, 0, 'g', 4)
          .arg(r.passes));
  showEffect(s);
  showHeads(s);
}

void PatchingPanel::showEffect(const Snapshot& s) {
  const ana::PatchingResult& r = *s.patching;
  fillMap(m_map, r.effect, r.nLayer, r.nTokens);
  m_ticks->setTokens(s.tokens.mid(0, r.nTokens));
  m_plot->xAxis->setRange(-0.5, r.nTokens - 0.5);
  m_plot->yAxis->setRange(-0.5, r.nLayer - 0.5);
  m_plot->setVisible(true);
  m_plot->replot();
}

void PatchingPanel::showHeads(const Snapshot& s) {
  const ana::PatchingResult& r = *s.patching;
  if (r.headEffect.empty()) return;
  fillMap(m_headMap, r.headEffect, r.nLayer, r.nHead);
  m_headPlot->xAxis->setRange(-0.5, r.nHead - 0.5);
  m_headPlot->yAxis->setRange(-0.5, r.nLayer - 0.5);
  m_headPlot->setVisible(true);
  m_headPlot->replot();
}

}  // namespace ll::ui
