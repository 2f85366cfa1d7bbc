#include "ui/routing_panel.h"

#include "ui/narrow.h"
#include "ui/router_edit_list.h"
#include "ui/selection_model.h"
#include "ui/wheel_guard.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/routing_view.h"

#include <qcustomplot.h>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSlider>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace ll::ui {

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
  m_load->xAxis->setLabel(tr("expert (load: fraction of tokens routed to it)"));
  m_load->yAxis->setLabel(tr("load"));
  m_load->yAxis->ticker()->setTickCount(3);  // legible when the plot is short
  m_load->setMinimumHeight(100);
  // The edits scroll as a whole when the dock is short (a 700 px screen): their controls and
  // list keep the sizes that make them usable instead of setting the window's minimum height.
  auto* editsArea = new QScrollArea(split);
  editsArea->setWidgetResizable(true);
  editsArea->setFrameShape(QFrame::NoFrame);
  editsArea->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  editsArea->setWidget(buildEditors(editsArea));
  editsArea->setMinimumHeight(4 * fontMetrics().height());
  split->setCollapsible(2, false);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 1);
  split->setStretchFactor(2, 3);
  split->setSizes({300, 100, 300});  // proportions: the map keeps as much room as the edits
  v->addWidget(split, 1);
  guardWheelIn(this);
  refreshList();

  connect(m_mode, &QComboBox::currentIndexChanged, this, &RoutingPanel::showMatrix);
  connect(m_layers, &QComboBox::currentIndexChanged, this, &RoutingPanel::scopeChanged);
  connect(m_reset, &QPushButton::clicked, this, &RoutingPanel::resetAllEdits);
  // Queued: the clicked remove button is deleted when the list is rebuilt.
  connect(m_list, &RouterEditList::removeRequested, this, &RoutingPanel::removeListed,
          Qt::QueuedConnection);
  connect(m_selection, &SelectionModel::changed, this, [this] {
    showMatrix();
    if (m_layers->currentIndex() == 0) {
      refreshList();  // the list names the selected layer
      // Edits in "the selected layer" follow the selection.
      if (!controlEdits(m_selection->layer()).empty()) emit settingsChanged();
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
  {
    const QSignalBlocker block(m_layers);
    m_layers->setCurrentIndex(0);
  }
  m_scope = 0;
  m_scopeNote->clear();
  m_scopeNote->setVisible(false);
  buildExpertControls(info.nExpert);
  refreshList();
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
}

void RoutingPanel::applyTo(ViewState& state) const {
  state.routerEdits = routerEdits();
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
