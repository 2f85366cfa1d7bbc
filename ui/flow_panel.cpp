// The Flow routes panel: shows a Snapshot's FlowGraph (computed on the worker) and walks the
// routes to the shared selection's token (linear in the edges, cheap on the UI thread).
#include "ui/flow_panel.h"

#include "ui/flow_view.h"
#include "ui/selection_model.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include <algorithm>

namespace ll::ui {

FlowPanel::FlowPanel(SelectionModel* selection, QWidget* parent) : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  auto* bar = new QHBoxLayout;
  m_enabled = new QCheckBox(tr("Compute"), this);
  m_enabled->setToolTip(
      tr("Builds the contribution graph of the whole prompt whenever the prompt or the "
         "interventions change (about the cost of one more pass on long prompts)"));
  m_threshold = new QDoubleSpinBox(this);
  m_threshold->setRange(0.0, 0.99);
  m_threshold->setSingleStep(0.01);
  m_threshold->setDecimals(3);
  m_threshold->setValue(rt::ana::FlowRequest{}.threshold);
  m_threshold->setPrefix(tr("τ "));
  m_threshold->setToolTip(QString::fromUtf8(rt::ana::kFlowThresholdHelp));
  m_threshold->setKeyboardTracking(false);  // one recomputation per value, not per keystroke
  bar->addWidget(m_enabled);
  bar->addWidget(m_threshold, 1);
  v->addLayout(bar);
  m_status = new QLabel(this);
  m_status->setWordWrap(true);
  m_status->setTextFormat(Qt::PlainText);  // token text shows literally ("<s>")
  v->addWidget(m_status);
  m_view = new FlowView(this);
  v->addWidget(m_view, 1);
  clearData();

  connect(m_enabled, &QCheckBox::toggled, this, &Panel::settingsChanged);
  connect(m_threshold, &QDoubleSpinBox::valueChanged, this, &Panel::settingsChanged);
  // Clicking a node selects its layer (the block that produced it) and token.
  connect(m_view, &FlowView::nodeClicked, this, [this](int level, int token) {
    if (!m_view->graph()) return;
    m_selection->setLayer(std::max(0, (level - 1) / 2));
    m_selection->setToken(token);
  });
  // The routes follow the selected token at once (the snapshot follows after the recomputation).
  connect(m_selection, &SelectionModel::changed, this, [this] {
    if (m_snapshot && m_snapshot->flow) showRoutes();
  });
}

QList<QWidget*> FlowPanel::figureWidgets() const {
  return {m_view};
}

QString FlowPanel::status() const {
  return m_status->text();
}

void FlowPanel::applyTo(ViewState& state) const {
  state.flow.enabled = m_enabled->isChecked();
  state.flow.threshold = m_threshold->value();
}

void FlowPanel::applyState(const FlowSettings& settings) {
  const QSignalBlocker b1(m_enabled), b2(m_threshold);
  m_enabled->setChecked(settings.enabled);
  m_threshold->setValue(settings.threshold);
}

void FlowPanel::clearData() {
  Panel::clearData();
  m_view->clear();
  m_status->setText(tr("Tick Compute to build the information-flow graph of the prompt."));
}

void FlowPanel::showSnapshot(const SnapshotPtr& snapshot) {
  clearData();
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (!s.flowError.isEmpty()) {
    m_status->setText(s.flowError);
    return;
  }
  if (!s.flow) {
    if (s.state.flow.enabled && s.trace)
      m_status->setText(tr("Building the information-flow graph..."));
    return;
  }
  showRoutes();
}

void FlowPanel::showRoutes() {
  const Snapshot& s = *m_snapshot;
  const rt::ana::FlowGraph& g = *s.flow;
  const int P = std::clamp(m_selection->resolvedToken(), 0, g.nTokens - 1);
  rt::ana::FlowRoutes r = rt::ana::flowRoutes(g, P);
  size_t onRoute = 0;
  for (double f : r.edgeFlow) onRoute += f > 0;
  const QString tok = P < s.tokens.size() ? s.tokens[P] : QString();
  m_status->setText(tr("Routes to #%1 \"%2\": %3 of %4 edges (τ = %5)")
                        .arg(P)
                        .arg(tok)
                        .arg(onRoute)
                        .arg(g.edges.size())
                        .arg(g.threshold));
  m_view->setGraph(s.flow, std::move(r), s.tokens);
  m_view->setSelectedNode(m_selection->layer(), P);
}

}  // namespace ll::ui
