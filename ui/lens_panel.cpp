// LensPanel: controls, the grid view fed from the snapshot's LensGrid with its colour bar, hover
// text and clicks.
#include "ui/lens_panel.h"

#include "ui/narrow.h"
#include "ui/selection_model.h"
#include "visualizers/qt/color_bar.h"
#include "visualizers/qt/lens_grid_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>

namespace ll::ui {

namespace {

QLabel* plainLabel(QWidget* parent) {
  auto* l = new QLabel(parent);
  l->setTextFormat(Qt::PlainText);  // token text is literal ("<s>")
  return l;
}

}  // namespace

LensPanel::LensPanel(SelectionModel* selection, QWidget* parent) : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  auto* controls = new QHBoxLayout;
  m_value = new QComboBox(this);
  m_value->addItem(tr("top-1 probability"));
  m_value->addItem(tr("entropy"));
  m_finalNorm = new QCheckBox(tr("final norm"), this);
  m_finalNorm->setChecked(true);
  m_finalNorm->setToolTip(
      tr("Apply the model's final norm before the LM head (off: the BuPO "
         "variant, the raw residual stream through the LM head)"));
  m_mid = new QCheckBox(tr("after attention"), this);
  m_mid->setToolTip(tr("Also a row after the attention (+ residual) inside each layer"));
  m_first = new QSpinBox(this);
  m_first->setRange(-1, 0);
  m_first->setValue(-1);
  m_first->setSingleStep(16);
  m_first->setSpecialValueText(tr("follow selection"));
  m_first->setToolTip(tr("First token column: the grid shows at most %1 tokens at a time (fewer "
                         "on large models); \"follow selection\" shows the window holding the "
                         "selected token")
                          .arg(LensGrid::kMaxColumns));
  // Two short rows of controls and a wrapping range line: the panel stays usable in a narrow
  // dock (a laptop screen) instead of widening the dock area.
  controls->addWidget(new QLabel(tr("Colour:"), this));
  allowNarrow(m_value);
  controls->addWidget(m_value);
  controls->addWidget(m_finalNorm);
  controls->addStretch(1);
  v->addLayout(controls);
  auto* window = new QHBoxLayout;
  window->addWidget(m_mid);
  window->addWidget(new QLabel(tr("from token"), this));
  window->addWidget(m_first);
  window->addStretch(1);
  v->addLayout(window);
  // On its own line: beside the controls it wrapped into a tall, narrow column.
  m_range = plainLabel(this);
  m_range->setWordWrap(true);
  v->addWidget(m_range);
  m_view = new vis::LensGridView(this);
  m_colorBar = new vis::ColorBar(this);
  auto* grid = new QHBoxLayout;
  grid->setSpacing(2);
  grid->addWidget(m_view, 1);
  grid->addWidget(m_colorBar);
  v->addLayout(grid, 1);
  m_hover = plainLabel(this);
  m_hover->setMinimumWidth(10);
  v->addWidget(m_hover);

  connect(m_value, &QComboBox::currentIndexChanged, this, &Panel::settingsChanged);
  connect(m_finalNorm, &QCheckBox::toggled, this, &Panel::settingsChanged);
  connect(m_mid, &QCheckBox::toggled, this, &Panel::settingsChanged);
  connect(m_first, &QSpinBox::valueChanged, this, &Panel::settingsChanged);
  connect(m_view, &vis::LensGridView::cellHovered, this, &LensPanel::hovered);
  connect(m_view, &vis::LensGridView::cellClicked, this, &LensPanel::clicked);
  connect(m_view, &vis::LensGridView::hoverLeft, this, [this] {
    m_hover->clear();
    QToolTip::hideText();
    emit hoverText(QString());
  });
}

void LensPanel::applyTo(ViewState& state) const {
  state.lensGrid.finalNorm = m_finalNorm->isChecked();
  state.lensGrid.mid = m_mid->isChecked();
  state.lensGrid.value = m_value->currentIndex() == 1 ? LensValue::Entropy : LensValue::TopProb;
  state.lensGrid.first = m_first->value();
}

void LensPanel::applyState(const LensGridSettings& s) {
  const QSignalBlocker b1(m_value), b2(m_finalNorm), b3(m_mid), b4(m_first);
  m_value->setCurrentIndex(s.value == LensValue::Entropy ? 1 : 0);
  m_finalNorm->setChecked(s.finalNorm);
  m_mid->setChecked(s.mid);
  m_first->setMaximum(std::max(m_first->maximum(), s.first));
  m_first->setValue(s.first);
}

void LensPanel::clearData() {
  Panel::clearData();
  m_view->clear();
  syncColorBar();
  m_range->clear();
  m_hover->clear();
}

void LensPanel::syncColorBar() {
  const vis::LensGridViewData& d = m_view->data();
  m_colorBar->setScale(d.colormap, vis::Normalization::Linear, {d.lo, d.hi}, !m_view->isEmpty());
}

void LensPanel::showSnapshot(const SnapshotPtr& snapshot) {
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  const LensGrid* g = s.lensGrid.get();
  {
    const QSignalBlocker b(m_first);
    m_first->setMaximum(std::max({0, s.nTokens - 1, m_first->value()}));
  }
  m_hover->clear();
  if (!g || g->empty()) {
    m_view->clear();
    syncColorBar();
    m_range->setText(s.nTokens ? QString() : tr("no tokens"));
    return;
  }
  const LensValue value = s.state.lensGrid.value;
  vis::LensGridViewData d;
  d.rows = g->rowCount();
  d.cols = g->cols;
  d.values = g->values(value);
  if (value == LensValue::Entropy) {
    d.colormap = vis::Colormap::Magma;
    d.lo = 0.0f;
    d.hi = std::max(1e-6f, *std::max_element(d.values.begin(), d.values.end()));
  } else {
    d.colormap = vis::Colormap::Viridis;
    d.lo = 0.0f;
    d.hi = 1.0f;
  }
  for (int r = 0; r < d.rows; ++r) {
    d.rowLabels << g->rowLabel(r);
    for (int c = 0; c < d.cols; ++c) d.cellText << g->label(g->top1(r, c));
  }
  for (int c = 0; c < d.cols; ++c)
    d.colLabels << QString::number(g->first + c) + QLatin1Char(' ') + s.tokens.value(g->first + c);
  m_view->setData(std::move(d));
  syncColorBar();
  QString range =
      tr("tokens %1–%2 of %3").arg(g->first).arg(g->first + g->cols - 1).arg(g->nTokens);
  if (g->cols < g->nTokens) range += tr(" (window of %1)").arg(g->maxColumns);
  range += g->finalNorm ? tr(" · final norm") : tr(" · no final norm (BuPO)");
  range += value == LensValue::Entropy
               ? tr(" · colour: entropy 0–%1 nats (magma)").arg(m_view->data().hi, 0, 'f', 2)
               : tr(" · colour: top-1 probability 0–1 (viridis)");
  m_range->setText(range);
  updateMarkers();
}

void LensPanel::updateMarkers() {
  const LensGrid* g = m_snapshot ? m_snapshot->lensGrid.get() : nullptr;
  if (!g || g->empty()) return;
  const int col = m_snapshot->token - g->first;
  std::vector<int> rows;
  for (bool mid : {true, false})
    if (const int r = g->rowOf(m_snapshot->layer, mid); r >= 0) rows.push_back(r);
  m_view->setMarkers(col >= 0 && col < g->cols ? col : -1, rows);
  m_view->ensureColumnVisible(col);
}

QString LensPanel::cellText(int row, int col) const {
  const LensGrid* g = m_snapshot ? m_snapshot->lensGrid.get() : nullptr;
  if (!g || row < 0 || row >= g->rowCount() || col < 0 || col >= g->cols) return {};
  const int t = g->first + col;
  QStringList top;
  for (int k = 0; k < g->topK; ++k) {
    const size_t i = g->at(row, col) * size_t(g->topK) + size_t(k);
    top << QStringLiteral("%1 %2")
               .arg(g->label(g->topIds[i]))
               .arg(double(g->topProbs[i]), 0, 'f', 3);
  }
  return tr("%1 · token %2 %3 · top-5: %4 · entropy %5 nats")
      .arg(g->rowLabel(row))
      .arg(t)
      .arg(m_snapshot->tokens.value(t))
      .arg(top.join(QStringLiteral(", ")))
      .arg(double(g->entropy[g->at(row, col)]), 0, 'f', 3);
}

QString LensPanel::hoverHtml(int row, int col) const {
  const LensGrid* g = m_snapshot ? m_snapshot->lensGrid.get() : nullptr;
  if (!g || row < 0 || row >= g->rowCount() || col < 0 || col >= g->cols) return {};
  const int t = g->first + col;
  QString html = QStringLiteral("<b>%1 · token %2 %3</b><table>")
                     .arg(g->rowLabel(row))
                     .arg(t)
                     .arg(m_snapshot->tokens.value(t).toHtmlEscaped());
  for (int k = 0; k < g->topK; ++k) {
    const size_t i = g->at(row, col) * size_t(g->topK) + size_t(k);
    html += QStringLiteral("<tr><td>%1</td><td align=right>%2</td></tr>")
                .arg(g->label(g->topIds[i]).toHtmlEscaped())
                .arg(double(g->topProbs[i]), 0, 'f', 3);
  }
  return html + QStringLiteral("</table>entropy %1 nats")
                    .arg(double(g->entropy[g->at(row, col)]), 0, 'f', 3);
}

void LensPanel::hovered(int row, int col, QPoint globalPos) {
  const QString text = cellText(row, col);
  m_hover->setText(text);
  emit hoverText(text);
  if (!text.isEmpty())
    QToolTip::showText(globalPos + QPoint(12, 12), hoverHtml(row, col), m_view->viewport());
}

void LensPanel::clicked(int row, int col) {
  const LensGrid* g = m_snapshot ? m_snapshot->lensGrid.get() : nullptr;
  if (!g || row < 0 || row >= g->rowCount() || col < 0 || col >= g->cols) return;
  // The embeddings row has no layer of its own: it selects layer 0 (as the entropy plot does).
  m_selection->setLayer(std::max(0, g->rows[size_t(row)].layer));
  m_selection->setToken(g->first + col);
}

}  // namespace ll::ui
