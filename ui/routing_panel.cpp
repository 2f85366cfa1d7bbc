#include "ui/routing_panel.h"

#include "ui/narrow.h"
#include "ui/selection_model.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/routing_view.h"

#include <qcustomplot.h>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSlider>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <tuple>

namespace ll::ui {

namespace {
constexpr double kBiasStep = 0.1;  // slider unit in router-logit units
}

RoutingPanel::RoutingPanel(SelectionModel* selection, QVulkanInstance* instance, QWidget* parent)
    : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  m_info = new QLabel(tr("Open a mixture-of-experts model to see its routing."), this);
  m_info->setWordWrap(true);
  v->addWidget(m_info);
  auto* bar = new QHBoxLayout;
  m_mode = new QComboBox(this);
  m_mode->addItems(
      {tr("tokens x experts (selected layer)"), tr("layers x experts (selected token)")});
  allowNarrow(m_mode, 120);
  bar->addWidget(m_mode);
  bar->addStretch(1);
  v->addLayout(bar);
  auto* split = new QSplitter(Qt::Vertical, this);
  m_view = new vis::RoutingView(instance, split);
  m_load = new QCustomPlot(split);
  auto* bars = new QCPBars(m_load->xAxis, m_load->yAxis);
  bars->setBrush(QColor(94, 201, 98));
  bars->setPen(Qt::NoPen);
  m_load->xAxis->setLabel(tr("expert"));
  m_load->yAxis->setLabel(tr("load (fraction of tokens)"));
  m_load->setMinimumHeight(100);
  auto* scroll = new QScrollArea(split);
  scroll->setWidgetResizable(true);
  m_editors = new QWidget(scroll);
  auto* ev = new QVBoxLayout(m_editors);
  auto* lrow = new QHBoxLayout;
  m_layers = new QComboBox(m_editors);
  m_layers->addItems({tr("selected layer"), tr("all MoE layers"), tr("as loaded (per layer)")});
  lrow->addWidget(new QLabel(tr("Edits apply in"), m_editors));
  lrow->addWidget(m_layers);
  lrow->addStretch(1);
  ev->addLayout(lrow);
  m_grid = new QGridLayout;
  ev->addLayout(m_grid);
  m_effect = new QLabel(m_editors);
  m_effect->setTextFormat(Qt::RichText);  // token text in it is escaped
  m_effect->setWordWrap(true);
  ev->addWidget(m_effect);
  ev->addStretch(1);
  scroll->setWidget(m_editors);
  v->addWidget(split, 1);

  connect(m_mode, &QComboBox::currentIndexChanged, this, &RoutingPanel::showMatrix);
  connect(m_layers, &QComboBox::currentIndexChanged, this, [this](int mode) {
    // The expert controls do not feed the verbatim per-layer edits of a loaded session.
    for (auto* w : m_bias) w->setEnabled(mode != 2);
    for (auto* w : m_force) w->setEnabled(mode != 2);
    emit settingsChanged();
  });
  connect(m_selection, &SelectionModel::changed, this, [this] {
    showMatrix();
    if (m_layers->currentIndex() == 0) {
      // Edits in "the selected layer" follow the selection.
      for (auto* s : m_bias)
        if (s->value() != 0) return emit settingsChanged();
      for (auto* f : m_force)
        if (f->currentIndex() != 0) return emit settingsChanged();
    }
  });
  connect(m_view, &vis::RoutingView::cellSelected, this, [this](int row, int) {
    if (m_mode->currentIndex() == 0)
      m_selection->setToken(row);
    else
      m_selection->setLayer(row);
  });
}

QString RoutingPanel::infoText() const {
  return m_info->text();
}

QString RoutingPanel::effectText() const {
  return m_effect->text();
}

QList<QWidget*> RoutingPanel::figureWidgets() const {
  return {m_view, m_load};
}

void RoutingPanel::clearView() {
  m_view->clear();
  if (auto* bars = qobject_cast<QCPBars*>(m_load->plottable(0))) bars->data()->clear();
  m_load->replot();
  m_effect->clear();
}

void RoutingPanel::clearData() {
  Panel::clearData();
  clearView();
}

void RoutingPanel::modelChanged(const ModelInfo& info) {
  m_nExpert = info.nExpert;
  m_nLayer = info.nLayer;
  m_loaded.clear();  // a loaded session's per-layer edits belong to the model it named
  if (m_layers->currentIndex() == 2) m_layers->setCurrentIndex(0);
  while (QLayoutItem* it = m_grid->takeAt(0)) {
    delete it->widget();
    delete it;
  }
  m_bias.clear();
  m_force.clear();
  m_biasLabel.clear();
  if (info.nExpert <= 0) {
    m_info->setText(tr("%1 is a dense model (no experts): nothing is routed.").arg(info.name));
    m_editors->setEnabled(false);
    return;
  }
  m_editors->setEnabled(true);
  m_info->setText(tr("%1 experts, %2 used per token. Bias adds to the router logit; force sets it "
                     "to max + 0.001; ban removes the expert before top-k (ALGORITHMS.md §9).")
                      .arg(info.nExpert)
                      .arg(info.nExpertUsed));
  m_grid->addWidget(new QLabel(tr("Expert"), m_editors), 0, 0);
  m_grid->addWidget(new QLabel(tr("Bias"), m_editors), 0, 1);
  m_grid->addWidget(new QLabel(tr("Force / ban"), m_editors), 0, 3);
  for (int e = 0; e < info.nExpert; ++e) {
    auto* s = new QSlider(Qt::Horizontal, m_editors);
    s->setRange(-50, 50);
    auto* lab = new QLabel(QStringLiteral("0.0"), m_editors);
    auto* f = new QComboBox(m_editors);
    f->addItems({tr("-"), tr("force"), tr("ban")});
    m_grid->addWidget(new QLabel(QString::number(e), m_editors), e + 1, 0);
    m_grid->addWidget(s, e + 1, 1);
    m_grid->addWidget(lab, e + 1, 2);
    m_grid->addWidget(f, e + 1, 3);
    m_bias.push_back(s);
    m_biasLabel.push_back(lab);
    m_force.push_back(f);
    connect(s, &QSlider::valueChanged, this, [this, lab](int val) {
      lab->setText(QString::number(val * kBiasStep, 'f', 1));
      emit settingsChanged();
    });
    connect(f, &QComboBox::currentIndexChanged, this, &Panel::settingsChanged);
  }
}

void RoutingPanel::setExpertEdit(int expert, double bias, int mode) {
  if (expert < 0 || expert >= static_cast<int>(m_bias.size())) return;
  m_bias[expert]->setValue(static_cast<int>(std::lround(bias / kBiasStep)));
  m_force[expert]->setCurrentIndex(std::clamp(mode, 0, 2));
}

void RoutingPanel::applyTo(ViewState& state) const {
  state.routerEdits = routerEdits();
}

std::vector<rt::RouterEdit> RoutingPanel::routerEdits() const {
  return editsFromControls(m_selection->layer());
}

std::vector<rt::RouterEdit> RoutingPanel::editsFromControls(int selectedLayer) const {
  std::vector<rt::RouterEdit> out;
  if (m_nExpert <= 0) return out;
  if (m_layers->currentIndex() == 2) return m_loaded;
  std::vector<int> layers;
  if (m_layers->currentIndex() == 0)
    layers.push_back(selectedLayer);
  else
    for (int l = 0; l < m_nLayer; ++l) layers.push_back(l);
  for (int l : layers)
    for (int e = 0; e < static_cast<int>(m_bias.size()); ++e) {
      const int mode = m_force[e]->currentIndex();
      if (mode == 1)
        out.push_back({l, e, rt::RouterEditKind::Force, 0.0f});
      else if (mode == 2)
        out.push_back({l, e, rt::RouterEditKind::Ban, 0.0f});
      if (m_bias[e]->value() != 0 && mode != 2)
        out.push_back(
            {l, e, rt::RouterEditKind::Bias, static_cast<float>(m_bias[e]->value() * kBiasStep)});
    }
  return out;
}

void RoutingPanel::resetControls() {
  for (auto* s : m_bias) s->setValue(0);
  for (auto* f : m_force) f->setCurrentIndex(0);
  m_loaded.clear();
}

void RoutingPanel::applyState(const std::vector<rt::RouterEdit>& edits, int selectedLayer) {
  const QSignalBlocker block(this);
  resetControls();
  m_layers->setCurrentIndex(0);
  if (edits.empty()) return;
  // Try the expert controls first: the edits of the first layer, then check that the controls
  // reproduce the whole list exactly (same layers, same kinds, bias on the slider's 0.1 grid).
  const auto key = [](const rt::RouterEdit& r) {
    return std::tuple(r.layer, r.expert, int(r.kind), r.value);
  };
  auto want = edits;
  std::sort(want.begin(), want.end(),
            [&](const auto& a, const auto& b) { return key(a) < key(b); });
  bool fits = true;
  for (const auto& r : want) {
    if (r.layer != want.front().layer) continue;
    if (r.expert < 0 || r.expert >= int(m_bias.size())) {
      fits = false;
      break;
    }
    if (r.kind == rt::RouterEditKind::Force && r.value == 0.0f)
      m_force[r.expert]->setCurrentIndex(1);
    else if (r.kind == rt::RouterEditKind::Ban)
      m_force[r.expert]->setCurrentIndex(2);
    else if (r.kind == rt::RouterEditKind::Bias)
      m_bias[r.expert]->setValue(static_cast<int>(std::lround(r.value / kBiasStep)));
    else
      fits = false;
  }
  for (int mode : {0, 1}) {
    if (!fits) break;
    m_layers->setCurrentIndex(mode);
    auto got = editsFromControls(selectedLayer);
    std::sort(got.begin(), got.end(),
              [&](const auto& a, const auto& b) { return key(a) < key(b); });
    if (got == want) return;
  }
  resetControls();
  m_loaded = edits;
  m_layers->setCurrentIndex(2);
}

void RoutingPanel::showMatrix() {
  const Snapshot* s = m_snapshot.get();
  if (!s || s->routing.empty()) return;
  if (m_mode->currentIndex() == 0)
    m_view->showMatrix(vis::RoutingView::Mode::TokenByExpert,
                       std::clamp(m_selection->layer(), 0, s->nLayer - 1));
  else
    m_view->showMatrix(vis::RoutingView::Mode::LayerByExpert,
                       std::clamp(m_selection->resolvedToken(), 0, s->nTokens - 1));
  // Load of the selected layer.
  auto* bars = qobject_cast<QCPBars*>(m_load->plottable(0));
  const int l = std::clamp(m_selection->layer(), 0, s->nLayer - 1);
  QVector<double> x(s->nExpert), y(s->nExpert);
  for (int e = 0; e < s->nExpert; ++e) {
    x[e] = e;
    const size_t i = static_cast<size_t>(l) * s->nExpert + e;
    y[e] = i < s->load.size() ? s->load[i] : 0.0;
  }
  if (bars) bars->setData(x, y);
  m_load->xAxis->setRange(-0.5, s->nExpert - 0.5);
  m_load->yAxis->setRange(0.0, 1.05);
  m_load->replot();
}

void RoutingPanel::showSnapshot(const SnapshotPtr& snapshot) {
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (s.routing.empty()) return clearView();  // a dense model or no tokens: nothing is routed
  m_view->setScores(s.routing, s.nLayer, s.nTokens, s.nExpert, s.tokens);
  showMatrix();
  QString effect;
  if (!s.topNext.empty())
    effect = tr("Next token with these edits: \"%1\" (p = %2)")
                 .arg(s.topNext.front().first.toHtmlEscaped())
                 .arg(double(s.topNext.front().second), 0, 'f', 3);
  if (s.hasContinuation) effect += tr("<br>Continuation: %1").arg(s.continuation.toHtmlEscaped());
  if (!s.routingWarning.isEmpty())
    effect += tr("<br><span style='color:#c0392b'>%1</span>").arg(s.routingWarning.toHtmlEscaped());
  m_effect->setText(effect);
}

}  // namespace ll::ui
