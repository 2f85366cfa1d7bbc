#include "ui/attention_panel.h"

#include "ui/demo_data.h"
#include "ui/heatmap_view.h"
#include "ui/selection_model.h"
#include "ui/theme.h"
#include "visualizers/qt/attention_map_view.h"
#include "visualizers/qt/head_grid_view.h"
#include "visualizers/qt/token_ticks.h"

#include <qcustomplot.h>
#include <QCheckBox>
#include <QComboBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace ll::ui {

AttentionPanel::AttentionPanel(SelectionModel* selection, QVulkanInstance* instance,
                               QWidget* parent)
    : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(2, 2, 2, 2);
  auto* bar = new QHBoxLayout;
  m_layer = new QSpinBox(this);
  m_layer->setPrefix(tr("layer "));
  m_head = new QComboBox(this);
  m_caption = new QLabel(this);
  m_caption->setTextFormat(Qt::RichText);
  m_caption->setWordWrap(true);  // wraps rather than widening the dock on a small screen
  bar->addWidget(m_layer);
  bar->addWidget(m_head);
  bar->addWidget(m_caption, 1);
  v->addLayout(bar);
  // Attention knockout: one compact row (the induction demo cuts the copy path with it).
  auto* ko = new QHBoxLayout;
  m_koEnabled = new QCheckBox(tr("Knockout"), this);
  m_koFrom = new QLineEdit(this);
  m_koTo = new QLineEdit(this);
  m_koLayers = new QLineEdit(this);
  m_koFrom->setPlaceholderText(tr("from tokens, e.g. 13-22"));
  m_koTo->setPlaceholderText(tr("to tokens, e.g. 2-12"));
  m_koLayers->setPlaceholderText(tr("layers, e.g. 1-1"));
  m_koFrom->setToolTip(tr("Query tokens that may not attend ..."));
  m_koTo->setToolTip(tr("... these key tokens (a token still attends itself)"));
  m_koLayers->setToolTip(tr("First-last layer the knockout applies in"));
  m_koNote = new QLabel(this);
  ko->addWidget(m_koEnabled);
  ko->addWidget(m_koFrom, 2);
  ko->addWidget(new QLabel(QStringLiteral("-/->"), this));
  ko->addWidget(m_koTo, 2);
  ko->addWidget(m_koLayers, 1);
  ko->addWidget(m_koNote);
  v->addLayout(ko);
  auto koChanged = [this] {
    const bool bad = m_koEnabled->isChecked() && !knockout();
    m_koNote->setText(bad ? tr("<span style='color:#c0392b'>not a valid knockout</span>")
                          : QString());
    emit settingsChanged();
  };
  connect(m_koEnabled, &QCheckBox::toggled, this, koChanged);
  for (auto* e : {m_koFrom, m_koTo, m_koLayers})
    connect(e, &QLineEdit::editingFinished, this, koChanged);
  auto* split = new QSplitter(Qt::Vertical, this);
  m_map = new HeatmapView(instance, split);
  auto* tabs = new QTabWidget(split);
  m_grid = new vis::HeadGridView(instance, tabs);
  tabs->addTab(m_grid, tr("Head grid"));
  m_row = new QCustomPlot(tabs);
  m_row->addGraph();
  auto* bars = new QCPBars(m_row->xAxis, m_row->yAxis);
  bars->setBrush(QColor(33, 145, 140));
  bars->setPen(Qt::NoPen);
  m_row->xAxis->setLabel(tr("key token"));
  m_row->yAxis->setLabel(tr("attention"));
  m_rowTicks = new vis::TokenTicks(m_row, m_row->xAxis);
  tabs->addTab(m_row, tr("Query row"));
  m_induction = new QTableWidget(tabs);
  m_induction->setEditTriggers(QAbstractItemView::NoEditTriggers);
  tabs->addTab(m_induction, tr("Induction"));
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  v->addWidget(split, 1);

  connect(m_layer, &QSpinBox::valueChanged, this, [this](int l) {
    if (!m_syncing) m_selection->setLayer(l);
  });
  connect(m_head, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (!m_syncing && i >= 0) m_selection->setHead(i - 2);
  });
  connect(m_grid, &vis::HeadGridView::headSelected, this, [this](int l, int h) {
    m_selection->setLayer(l);
    m_selection->setHead(h);
  });
  connect(m_map->map(), &vis::AttentionMapView::cellClicked, this, [this](int row, int col) {
    m_clickedRow = row;
    m_clickedKey = col;
    m_selection->setToken(row);
    syncMarkers();  // also when the token was already selected
  });
  connect(m_induction, &QTableWidget::cellClicked, this, [this](int l, int h) {
    m_selection->setLayer(l);
    m_selection->setHead(h);
  });
  connect(m_selection, &SelectionModel::changed, this, &AttentionPanel::syncControls);
  applyGridTheme();
  syncControls();
}

void AttentionPanel::changeEvent(QEvent* e) {
  Panel::changeEvent(e);
  if (e->type() == QEvent::PaletteChange) applyGridTheme();  // the theme changed
}

void AttentionPanel::applyGridTheme() {
  vis::HeatmapStyle style;
  applyHeatmapTheme(style, currentTheme());
  m_grid->setStyle(style);
}

void AttentionPanel::syncMarkers() {
  const int token = m_selection->resolvedToken();
  if (m_clickedRow != token) m_clickedKey = -1;  // selected elsewhere: its own column
  const int rows = m_map->matrix() ? m_map->matrix()->rows : 0;
  const int cols = m_map->matrix() ? m_map->matrix()->cols : 0;
  const int key = m_clickedKey >= 0 ? m_clickedKey : token;
  m_map->map()->setSelection(token >= 0 && token < rows ? token : -1,
                             key >= 0 && key < cols ? key : -1);
  m_grid->setSelectedHead(m_selection->layer(), m_selection->head());
}

QString formatIndexList(const std::vector<int>& indices) {
  QStringList parts;
  for (size_t i = 0; i < indices.size();) {
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    parts << (j == i ? QString::number(indices[i])
                     : QStringLiteral("%1-%2").arg(indices[i]).arg(indices[j]));
    i = j + 1;
  }
  return parts.join(QLatin1Char(','));
}

std::optional<std::vector<int>> parseIndexList(const QString& text) {
  constexpr int kMaxIndex = 1 << 20;  // far past any context; bounds what a range can allocate
  std::vector<int> out;
  for (const QString& raw : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
    const QString part = raw.trimmed();
    const QStringList ends = part.split(QLatin1Char('-'));
    if (ends.size() > 2) return std::nullopt;
    bool ok1 = false, ok2 = false;
    const int a = ends[0].trimmed().toInt(&ok1);
    const int b = ends.size() == 2 ? ends[1].trimmed().toInt(&ok2) : (ok2 = true, a);
    if (!ok1 || !ok2 || a < 0 || b < a || b > kMaxIndex) return std::nullopt;
    if (!out.empty() && a <= out.back()) return std::nullopt;
    for (int i = a; i <= b; ++i) out.push_back(i);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

void AttentionPanel::applyTo(ViewState& state) const {
  state.knockout = knockout();
}

std::optional<rt::Knockout> AttentionPanel::knockout() const {
  if (!m_koEnabled->isChecked()) return std::nullopt;
  const auto from = parseIndexList(m_koFrom->text());
  const auto to = parseIndexList(m_koTo->text());
  const auto layers = parseIndexList(m_koLayers->text());
  if (!from || !to || !layers) return std::nullopt;
  return rt::Knockout{*from, *to, layers->front(), layers->back() + 1};
}

void AttentionPanel::applyKnockout(const std::optional<rt::Knockout>& k) {
  const QSignalBlocker block(this);
  m_koEnabled->setChecked(k.has_value());
  m_koFrom->setText(k ? formatIndexList(k->from) : QString());
  m_koTo->setText(k ? formatIndexList(k->to) : QString());
  m_koLayers->setText(k && k->layerEnd > k->layerBegin
                          ? QStringLiteral("%1-%2").arg(k->layerBegin).arg(k->layerEnd - 1)
                          : QString());
  m_koNote->setText(k && !knockout() ? tr("<span style='color:#c0392b'>not a valid knockout</span>")
                                     : QString());
}

QList<QWidget*> AttentionPanel::figureWidgets() const {
  return {m_map, m_grid, m_row};
}

void AttentionPanel::syncControls() {
  m_syncing = true;
  m_layer->setRange(0, std::max(0, m_selection->nLayer() - 1));
  m_layer->setValue(m_selection->layer());
  if (m_head->count() != m_selection->nHead() + 2) {
    m_head->clear();
    m_head->addItem(tr("sum over heads"));
    m_head->addItem(tr("mean over heads"));
    for (int h = 0; h < m_selection->nHead(); ++h) m_head->addItem(tr("head %1").arg(h));
  }
  m_head->setCurrentIndex(m_selection->head() + 2);
  m_syncing = false;
  syncMarkers();
}

void AttentionPanel::modelChanged(const ModelInfo& info) {
  m_induction->clear();
  m_induction->setRowCount(info.nLayer);
  m_induction->setColumnCount(info.nHead);
  QStringList rows, cols;
  for (int l = 0; l < info.nLayer; ++l) rows << tr("L%1").arg(l);
  for (int h = 0; h < info.nHead; ++h) cols << tr("H%1").arg(h);
  m_induction->setVerticalHeaderLabels(rows);
  m_induction->setHorizontalHeaderLabels(cols);
  QString tip = tr("Induction score per head: mean attention on the induction stripe "
                   "of [BOS, x, x] with x = %1 random tokens (ALGORITHMS.md §1)")
                    .arg(info.inductionN);
  if (!info.inductionNote.isEmpty()) tip += QStringLiteral("\n") + info.inductionNote;
  m_induction->setToolTip(tip);
  if (info.induction.size() == static_cast<size_t>(info.nLayer) * info.nHead)
    for (int l = 0; l < info.nLayer; ++l)
      for (int h = 0; h < info.nHead; ++h) {
        const float s = info.induction[static_cast<size_t>(l) * info.nHead + h];
        if (std::isnan(s)) {  // the layer's sliding window hides the stripe
          auto* na = new QTableWidgetItem(tr("n/a"));
          na->setToolTip(info.inductionNote);
          m_induction->setItem(l, h, na);
          continue;
        }
        auto* it = new QTableWidgetItem(QString::number(double(s), 'f', 2));
        it->setBackground(QColor::fromHsvF(0.33, std::clamp(double(s), 0.0, 1.0) * 0.8, 0.95));
        it->setForeground(Qt::black);
        m_induction->setItem(l, h, it);
      }
  m_induction->resizeColumnsToContents();
}

QString AttentionPanel::captionText() const {
  return m_caption->text();
}

void AttentionPanel::clearMap() {
  m_map->setAttention(nullptr, {});
  syncMarkers();
  m_caption->clear();
  for (int i = 0; i < m_row->plottableCount(); ++i)
    if (auto* bars = qobject_cast<QCPBars*>(m_row->plottable(i))) bars->data()->clear();
  m_row->replot();
}

void AttentionPanel::clearData() {
  Panel::clearData();
  clearMap();
  m_grid->clear();
}

void AttentionPanel::showTestPattern(const QString& prompt) {
  const QStringList tokens = demoTokens(prompt);
  auto matrix = demoAttention(static_cast<int>(tokens.size()));
  m_map->setAttention(matrix, tokens);
  syncMarkers();
  m_caption->setText(tr("<b>Test heatmap</b> (synthetic pattern, no model loaded)"));
}

void AttentionPanel::showSnapshot(const SnapshotPtr& snapshot) {
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  if (s.streamed == StreamedOutput::None && (s.gridTokens <= 0 || s.headGrid.empty()))
    m_grid->clear();  // no tokens: the previous prompt's grid no longer applies
  if (!s.attention) return clearMap();
  m_map->setAttention(s.attention, s.tokens);
  syncMarkers();
  const QString head = s.head == -2   ? tr("sum over heads")
                       : s.head == -1 ? tr("mean over heads")
                                      : tr("head %1").arg(s.head);
  QString caption = tr("layer %1, %2, query \"%3\" (#%4)")
                        .arg(s.layer)
                        .arg(head, s.tokens.value(s.token).toHtmlEscaped())
                        .arg(s.token);
  if (s.layer < static_cast<int>(s.trace ? s.trace->layerAttn.size() : 0) &&
      s.trace->layerAttn[size_t(s.layer)].window > 0)
    caption += tr(", sliding window %1").arg(s.trace->layerAttn[size_t(s.layer)].window);
  if (!s.knockoutWarning.isEmpty())
    caption += QStringLiteral("<br><span style='color:#b9770e'>%1</span>")
                   .arg(s.knockoutWarning.toHtmlEscaped());
  m_caption->setText(caption);
  m_caption->setToolTip(s.knockoutWarning);
  // Query row
  auto* bars = qobject_cast<QCPBars*>(m_row->plottable(1));
  if (!bars) bars = qobject_cast<QCPBars*>(m_row->plottable(0));
  QVector<double> x(static_cast<int>(s.queryRow.size())), y(x.size());
  for (int i = 0; i < x.size(); ++i) {
    x[i] = i;
    y[i] = s.queryRow[i];
  }
  if (bars) bars->setData(x, y);
  m_rowTicks->setTokens(s.tokens.mid(0, x.size()));  // thinned to the plot's width
  m_row->xAxis->setRange(-0.5, std::max(0.5, x.size() - 0.5));
  m_row->yAxis->setRange(0.0, std::max(1e-6, *std::max_element(y.begin(), y.end()) * 1.1));
  m_row->replot();
  if (s.streamed == StreamedOutput::None && s.gridTokens > 0 && !s.headGrid.empty())
    m_grid->setAttention(s.headGrid, s.nLayer, s.nHead, s.gridTokens,
                         s.tokens.mid(std::max<qsizetype>(0, s.tokens.size() - s.gridTokens)),
                         std::max(0, static_cast<int>(s.tokens.size()) - s.gridTokens));
}

QList<int> AttentionPanel::queryRowLabelledTokens() const {
  return m_rowTicks->labelled();
}

}  // namespace ll::ui
