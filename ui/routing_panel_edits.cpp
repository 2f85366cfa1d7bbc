// The routing panel's router edits: the per-expert controls and the scope they apply in, the list
// of edits in force (each removable), "Reset all edits", and session restore into the controls.
#include "ui/router_edit_list.h"
#include "ui/routing_panel.h"

#include "ui/narrow.h"
#include "ui/selection_model.h"
#include "ui/wheel_guard.h"

#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSlider>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <tuple>

namespace ll::ui {

namespace {
constexpr double kBiasStep = 0.1;  // slider unit in router-logit units
enum Scope { kSelectedLayer = 0, kAllLayers = 1, kAsLoaded = 2 };

// "1 edit", "3 edits" (no translator is installed, so tr's %n plural forms would stay literal).
QString countEdits(int n, const QString& what = QStringLiteral("edit")) {
  return QStringLiteral("%1 %2%3").arg(n).arg(what).arg(n == 1 ? "" : "s");
}
}  // namespace

QWidget* RoutingPanel::buildEditors(QWidget* parent) {
  m_editors = new QWidget(parent);
  auto* ev = new QVBoxLayout(m_editors);
  ev->setContentsMargins(0, 2, 0, 0);
  auto* lrow = new QHBoxLayout;
  m_layers = new QComboBox(m_editors);
  m_layers->addItems({tr("selected layer"), tr("all MoE layers"), tr("as loaded (per layer)")});
  m_reset = new QPushButton(tr("Reset all edits"), m_editors);
  m_reset->setToolTip(tr("Remove every router edit (all layers, loaded ones too) and recompute"));
  lrow->addWidget(new QLabel(tr("Edits apply in"), m_editors));
  allowNarrow(m_layers, 80);
  lrow->addWidget(m_layers);
  lrow->addStretch(1);
  lrow->addWidget(m_reset);
  ev->addLayout(lrow);
  m_scopeNote = new QLabel(m_editors);
  m_scopeNote->setTextFormat(Qt::PlainText);
  m_scopeNote->setWordWrap(true);
  m_scopeNote->setVisible(false);
  ev->addWidget(m_scopeNote);
  // The per-expert controls scroll (OLMoE has 64 experts); the list of edits below stays in view.
  auto* controls = new QScrollArea(m_editors);
  controls->setWidgetResizable(true);
  auto* gridHost = new QWidget(controls);
  m_grid = new QGridLayout(gridHost);
  controls->setWidget(gridHost);
  controls->setMinimumHeight(3 * (fontMetrics().height() + 14));
  ev->addWidget(controls, 2);
  ev->addWidget(new QLabel(tr("Edits in force"), m_editors));
  m_list = new RouterEditList(m_editors);
  ev->addWidget(m_list, 1);
  m_effect = new QLabel(m_editors);
  m_effect->setTextFormat(Qt::RichText);  // token text in it is escaped
  m_effect->setWordWrap(true);
  ev->addWidget(m_effect);
  return m_editors;
}

void RoutingPanel::buildExpertControls(int nExpert) {
  while (QLayoutItem* it = m_grid->takeAt(0)) {
    delete it->widget();
    delete it;
  }
  m_bias.clear();
  m_force.clear();
  m_biasLabel.clear();
  if (nExpert <= 0) return;
  QWidget* host = m_grid->parentWidget();
  m_grid->addWidget(new QLabel(tr("Expert"), host), 0, 0);
  m_grid->addWidget(new QLabel(tr("Bias"), host), 0, 1);
  m_grid->addWidget(new QLabel(tr("Force / ban"), host), 0, 3);
  for (int e = 0; e < nExpert; ++e) {
    auto* s = new QSlider(Qt::Horizontal, host);
    s->setRange(-50, 50);
    s->setMinimumWidth(60);  // the row fits a narrow dock (1024 px screens)
    auto* lab = new QLabel(QStringLiteral("0.0"), host);
    auto* f = new QComboBox(host);
    f->addItems({tr("-"), tr("force"), tr("ban")});
    m_grid->addWidget(new QLabel(QString::number(e), host), e + 1, 0);
    m_grid->addWidget(s, e + 1, 1);
    m_grid->addWidget(lab, e + 1, 2);
    m_grid->addWidget(f, e + 1, 3);
    // In a scrolling list of 64 experts the wheel must scroll, not move the slider under it.
    guardWheel(s);
    guardWheel(f);
    m_bias.push_back(s);
    m_biasLabel.push_back(lab);
    m_force.push_back(f);
    connect(s, &QSlider::valueChanged, this, [this, lab](int val) {
      lab->setText(QString::number(val * kBiasStep, 'f', 1));
      refreshList();
      emit settingsChanged();
    });
    connect(f, &QComboBox::currentIndexChanged, this, [this] {
      refreshList();
      emit settingsChanged();
    });
  }
}

void RoutingPanel::setExpertEdit(int expert, double bias, int mode) {
  if (expert < 0 || expert >= static_cast<int>(m_bias.size())) return;
  m_bias[expert]->setValue(static_cast<int>(std::lround(bias / kBiasStep)));
  m_force[expert]->setCurrentIndex(std::clamp(mode, 0, 2));
}

std::vector<rt::RouterEdit> RoutingPanel::routerEdits() const {
  return editsFromControls(m_selection->layer());
}

std::vector<rt::RouterEdit> RoutingPanel::editsFromControls(int selectedLayer) const {
  std::vector<rt::RouterEdit> out;
  if (m_nExpert <= 0) return out;
  if (m_layers->currentIndex() == kAsLoaded) return m_loaded;
  std::vector<int> layers;
  if (m_layers->currentIndex() == kSelectedLayer)
    layers.push_back(selectedLayer);
  else
    for (int l = 0; l < m_nLayer; ++l) layers.push_back(l);
  for (int l : layers)
    for (const Listed& e : controlEdits(l)) out.push_back({l, e.expert, e.kind, e.value});
  return out;
}

std::vector<RoutingPanel::Listed> RoutingPanel::listedEdits() const {
  std::vector<Listed> out;
  if (m_nExpert <= 0) return out;
  const int scope = m_layers->currentIndex();
  if (scope == kAsLoaded) {
    for (int i = 0; i < static_cast<int>(m_loaded.size()); ++i) {
      const rt::RouterEdit& r = m_loaded[size_t(i)];
      out.push_back({r.expert, r.kind, r.value, r.layer, i});
    }
    return out;
  }
  return controlEdits(scope == kSelectedLayer ? m_selection->layer() : -1);
}

std::vector<RoutingPanel::Listed> RoutingPanel::controlEdits(int layer) const {
  std::vector<Listed> out;
  for (int e = 0; e < static_cast<int>(m_bias.size()); ++e) {
    const int mode = m_force[e]->currentIndex();
    if (mode == 1)
      out.push_back({e, rt::RouterEditKind::Force, 0.0f, layer});
    else if (mode == 2)
      out.push_back({e, rt::RouterEditKind::Ban, 0.0f, layer});
    // A banned expert never reaches top-k: its bias would change nothing.
    if (m_bias[e]->value() != 0 && mode != 2)
      out.push_back(
          {e, rt::RouterEditKind::Bias, static_cast<float>(m_bias[e]->value() * kBiasStep), layer});
  }
  return out;
}

void RoutingPanel::refreshList() {
  std::vector<RouterEditRow> rows;
  const QString all = tr("all (0-%1)").arg(std::max(0, m_nLayer - 1));
  for (const Listed& e : listedEdits())
    rows.push_back({e.layer < 0 ? all : QString::number(e.layer), e.expert, e.kind, e.value});
  m_list->setRows(rows);
  m_reset->setEnabled(!rows.empty() || !m_loaded.empty());
}

void RoutingPanel::removeListed(int row) {
  const std::vector<Listed> listed = listedEdits();
  if (row < 0 || row >= static_cast<int>(listed.size())) return;
  const Listed& e = listed[size_t(row)];
  if (e.loadedIndex >= 0) {
    m_loaded.erase(m_loaded.begin() + e.loadedIndex);
    refreshList();
    emit settingsChanged();
  } else if (e.kind == rt::RouterEditKind::Bias) {
    m_bias[e.expert]->setValue(0);  // refreshes the list and recomputes
  } else {
    m_force[e.expert]->setCurrentIndex(0);
  }
}

void RoutingPanel::resetAllEdits() {
  const int n = static_cast<int>(routerEdits().size());
  {
    // One recomputation for the whole reset, not one per control.
    const QSignalBlocker block(this);
    resetControls();
    if (m_layers->currentIndex() == kAsLoaded) {
      const QSignalBlocker blockScope(m_layers);
      m_layers->setCurrentIndex(kSelectedLayer);
      for (auto* w : m_bias) w->setEnabled(true);
      for (auto* w : m_force) w->setEnabled(true);
      m_scope = kSelectedLayer;
    }
  }
  refreshList();
  m_scopeNote->setText(n ? tr("removed all %1").arg(countEdits(n, QStringLiteral("router edit")))
                         : tr("no router edits to remove"));
  m_scopeNote->setVisible(true);
  emit settingsChanged();
}

void RoutingPanel::addEdits(const std::vector<rt::RouterEdit>& edits, const QString& what) {
  if (m_nExpert <= 0 || edits.empty()) return;
  std::vector<rt::RouterEdit> all = routerEdits();
  for (const rt::RouterEdit& e : edits) {
    std::erase_if(
        all, [&](const rt::RouterEdit& x) { return x.layer == e.layer && x.expert == e.expert; });
    all.push_back(e);
  }
  {
    // Per layer, verbatim: picked experts stay in their layers whatever layer is selected later.
    const QSignalBlocker block(this);
    const QSignalBlocker blockScope(m_layers);
    resetControls();
    m_loaded = all;
    m_layers->setCurrentIndex(kAsLoaded);
    for (auto* w : m_bias) w->setEnabled(false);
    for (auto* w : m_force) w->setEnabled(false);
    m_scope = kAsLoaded;
  }
  refreshList();
  m_scopeNote->setText(tr("added %1 (%2)").arg(countEdits(int(edits.size())), what));
  m_scopeNote->setVisible(true);
  emit settingsChanged();
}

QString RoutingPanel::scopeNoteText() const {
  return m_scopeNote->isHidden() ? QString() : m_scopeNote->text();
}

void RoutingPanel::scopeChanged(int scope) {
  // The expert controls do not feed the verbatim per-layer edits of a loaded session.
  for (auto* w : m_bias) w->setEnabled(scope != kAsLoaded);
  for (auto* w : m_force) w->setEnabled(scope != kAsLoaded);
  // Say what the switch did to the edits (chosen over asking: it is undone by switching back).
  const int n = static_cast<int>(controlEdits(-1).size()), layer = m_selection->layer();
  QString note;
  if (scope == kAsLoaded) {
    note = m_loaded.empty()
               ? tr("no loaded per-layer edits: none apply; the expert controls are not used")
               : tr("applying the %1 as loaded; the expert controls are not used")
                     .arg(countEdits(int(m_loaded.size()), QStringLiteral("per-layer edit")));
  } else if (scope == kAllLayers) {
    note =
        n ? tr("copied %1 of layer %2 to all %3 layers").arg(countEdits(n)).arg(layer).arg(m_nLayer)
          : tr("new edits apply in all %1 layers").arg(m_nLayer);
  } else {
    note = n ? tr("the %1 now %2 in layer %3 only")
                   .arg(countEdits(n), n == 1 ? QStringLiteral("applies") : QStringLiteral("apply"))
                   .arg(layer)
             : tr("new edits apply in the selected layer (%1)").arg(layer);
  }
  if (m_scope == kAsLoaded && scope != kAsLoaded && !m_loaded.empty())
    note += tr("; the %1 set aside (choose \"as loaded\" to apply them again)")
                .arg(countEdits(int(m_loaded.size()), QStringLiteral("loaded per-layer edit")));
  m_scope = scope;
  m_scopeNote->setText(note);
  m_scopeNote->setVisible(true);
  refreshList();
  emit settingsChanged();
}

void RoutingPanel::resetControls() {
  for (auto* s : m_bias) s->setValue(0);
  for (auto* f : m_force) f->setCurrentIndex(0);
  m_loaded.clear();
}

void RoutingPanel::applyState(const std::vector<rt::RouterEdit>& edits, int selectedLayer) {
  const QSignalBlocker block(this);
  const QSignalBlocker blockScope(m_layers);  // a restore is no scope change to report
  resetControls();
  m_scopeNote->clear();
  m_scopeNote->setVisible(false);
  const auto finish = [this](int scope) {
    m_layers->setCurrentIndex(scope);
    for (auto* w : m_bias) w->setEnabled(scope != kAsLoaded);
    for (auto* w : m_force) w->setEnabled(scope != kAsLoaded);
    m_scope = scope;
    refreshList();
  };
  m_layers->setCurrentIndex(kSelectedLayer);
  if (edits.empty()) return finish(kSelectedLayer);
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
  for (int mode : {kSelectedLayer, kAllLayers}) {
    if (!fits) break;
    m_layers->setCurrentIndex(mode);
    auto got = editsFromControls(selectedLayer);
    std::sort(got.begin(), got.end(),
              [&](const auto& a, const auto& b) { return key(a) < key(b); });
    if (got == want) return finish(mode);
  }
  resetControls();
  m_loaded = edits;
  finish(kAsLoaded);
}

}  // namespace ll::ui
