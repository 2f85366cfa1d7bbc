#include "ui/selection_panel.h"

#include "runtime/analysis/method_limits.h"
#include "ui/narrow.h"
#include "ui/selection_model.h"
#include "ui/wheel_guard.h"
#include "visualizers/qt/score_strip.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

namespace ll::ui {

QString methodName(SelectMethod m) {
  return QString::fromUtf8(rt::ana::selectionMethodName(m));
}

rt::ana::SelectionRequest selectionRequest(const SelectionSettings& settings, int selectedLayer) {
  rt::ana::SelectionRequest r = settings;
  if (r.layer < 0) r.layer = selectedLayer;
  return r;
}

SelectionPanel::SelectionPanel(SelectionModel* selection, QWidget* parent)
    : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  auto* form = new QFormLayout;
  m_method = new QComboBox(this);
  for (auto m : {SelectMethod::GemFilter, SelectMethod::SnapKv, SelectMethod::H2O,
                 SelectMethod::PromptDistill})
    m_method->addItem(methodName(m));
  allowNarrow(m_method);
  form->addRow(tr("Method"), m_method);
  auto* layerRow = new QHBoxLayout;
  m_layer = new QSlider(Qt::Horizontal, this);
  m_layer->setRange(0, 0);
  m_follow = new QCheckBox(tr("follow selected layer"), this);
  m_follow->setChecked(true);
  m_layerLabel = new QLabel(this);
  layerRow->addWidget(m_layer, 1);
  layerRow->addWidget(m_layerLabel);
  layerRow->addWidget(m_follow);
  form->addRow(tr("Layer"), layerRow);
  auto* kRow = new QHBoxLayout;
  m_k = new QSlider(Qt::Horizontal, this);
  const SelectionSettings defaults;  // the request type's defaults (selection_request.h)
  m_k->setRange(1, defaults.k);
  m_k->setValue(defaults.k);
  m_kLabel = new QLabel(this);
  kRow->addWidget(m_k, 1);
  kRow->addWidget(m_kLabel);
  form->addRow(tr("Keep k"), kRow);
  m_form = form;
  addParamRows(form);
  m_maxPool = new QCheckBox(tr("max instead of average"), this);
  m_maxPool->setChecked(defaults.maxPool);
  form->addRow(tr("Pooling"), m_maxPool);
  connect(m_maxPool, &QCheckBox::toggled, this, &Panel::settingsChanged);
  m_stages = new QLineEdit(this);
  m_stages->setPlaceholderText(tr("PromptDistill stages, e.g. 1:16,3:8 (empty: layer:k)"));
  form->addRow(tr("Stages"), m_stages);
  v->addLayout(form);
  addResultLabels(v);
  m_strip = new vis::ScoreStrip(this);
  m_strip->setMinimumHeight(110);
  v->addWidget(m_strip, 2);
  m_overlap = new QTableWidget(0, 2, this);
  m_overlap->setHorizontalHeaderLabels({tr("Methods"), tr("Jaccard overlap")});
  m_overlap->horizontalHeader()->setStretchLastSection(true);
  m_overlap->verticalHeader()->setVisible(false);
  m_overlap->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_overlap->setMaximumHeight(130);
  v->addWidget(m_overlap);
  auto* answers = new QHBoxLayout;
  auto* lf = new QVBoxLayout;
  auto* lk = new QVBoxLayout;
  m_full = new QPlainTextEdit(this);
  m_kept = new QPlainTextEdit(this);
  for (auto* e : {m_full, m_kept}) {
    e->setReadOnly(true);
    e->setMaximumHeight(90);
  }
  // Side by side, so the captions wrap rather than widening the dock on a small screen.
  auto caption = [this](const QString& text) {
    auto* l = new QLabel(text, this);
    l->setWordWrap(true);
    return l;
  };
  lf->addWidget(caption(tr("Answer from the full prompt")));
  lf->addWidget(m_full);
  lk->addWidget(caption(tr("Answer from the kept tokens")));
  lk->addWidget(m_kept);
  answers->addLayout(lf);
  answers->addLayout(lk);
  v->addLayout(answers);

  connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
    updateLabels();
    emit settingsChanged();
  });
  connect(m_layer, &QSlider::valueChanged, this, [this] {
    updateLabels();
    if (!m_follow->isChecked()) emit settingsChanged();
  });
  connect(m_follow, &QCheckBox::toggled, this, [this] {
    updateLabels();
    emit settingsChanged();
  });
  connect(m_k, &QSlider::valueChanged, this, [this] {
    if (!m_clampingK) m_kNote->setVisible(false);  // the user chose a k within the prompt
    updateLabels();
    emit settingsChanged();
  });
  connect(m_stages, &QLineEdit::editingFinished, this, &Panel::settingsChanged);
  guardWheelIn(this);
  updateLabels();
}

void SelectionPanel::addParamRows(QFormLayout* form) {
  const SelectionSettings defaults;
  for (const auto& p : rt::ana::selectionIntParams()) {
    // layer and k have their sliders.
    if (p.field == &rt::ana::SelectionRequest::layer || p.field == &rt::ana::SelectionRequest::k)
      continue;
    auto* box = new QSpinBox(this);
    const int lo = p.autoRule ? p.min - 1 : p.min;
    box->setRange(lo, std::min(p.max, 4096));
    if (p.autoRule) box->setSpecialValueText(tr("auto"));  // the rule is in the tooltip
    const int def = defaults.*p.field;
    box->setValue(def == rt::ana::kAuto && p.autoRule ? lo : def);
    box->setToolTip(QString::fromStdString(rt::ana::selectionParamHelp(p)));
    box->setMinimumWidth(60);
    form->addRow(tr(p.label), box);
    m_params.push_back({&p, box});
    connect(box, &QSpinBox::valueChanged, this, &Panel::settingsChanged);
  }
}

QSpinBox* SelectionPanel::paramBox(const QString& name) const {
  for (const auto& r : m_params)
    if (name == QLatin1String(r.param->name)) return r.box;
  return nullptr;
}

void SelectionPanel::addResultLabels(QVBoxLayout* v) {
  m_kNote = new QLabel(this);
  m_kNote->setWordWrap(true);
  m_kNote->setTextFormat(Qt::PlainText);
  m_kNote->setStyleSheet(QStringLiteral("color: #b9770e"));
  m_kNote->setVisible(false);
  v->addWidget(m_kNote);
  m_summary = new QLabel(this);
  m_summary->setWordWrap(true);
  v->addWidget(m_summary);
  m_reason = new QLabel(this);
  m_reason->setWordWrap(true);
  m_reason->setTextFormat(Qt::PlainText);
  m_reason->setVisible(false);
  v->addWidget(m_reason);
  m_warnings = new QLabel(this);
  m_warnings->setWordWrap(true);
  m_warnings->setTextFormat(Qt::PlainText);
  m_warnings->setStyleSheet(QStringLiteral("color: #b9770e"));
  m_warnings->setVisible(false);
  v->addWidget(m_warnings);
}

QList<QWidget*> SelectionPanel::figureWidgets() const {
  return {m_strip};
}

void SelectionPanel::updateLabels() {
  m_layerLabel->setText(m_follow->isChecked() ? tr("(selected)")
                                              : QString::number(m_layer->value()));
  m_layer->setEnabled(!m_follow->isChecked());
  const auto method = static_cast<SelectMethod>(m_method->currentIndex());
  for (const auto& r : m_params)
    m_form->setRowVisible(r.box, rt::ana::selectionParamUsed(*r.param, method));
  m_form->setRowVisible(m_maxPool, method == SelectMethod::SnapKv);
  m_kLabel->setText(m_promptTokens > 0 ? tr("%1 of %2").arg(m_k->value()).arg(m_promptTokens)
                                       : QString::number(m_k->value()));
}

void SelectionPanel::limitK(int nTokens) {
  if (nTokens <= 0) return;
  m_promptTokens = nTokens;
  const int old = m_k->value();
  m_clampingK = true;
  m_k->setMaximum(nTokens);  // emits valueChanged (and so settingsChanged) when it clamps
  m_clampingK = false;
  if (old > nTokens && old == rt::ana::SelectionRequest{}.k) {
    // The default budget (ALGORITHMS.md: 1024) keeps every token of a typical prompt: say so, or
    // a first look shows nothing dropped and no reason why.
    m_kNote->setText(tr("k = %1 (the default budget, as in the papers) keeps all %2 tokens of "
                        "this prompt: lower k to see what a method drops.")
                         .arg(old)
                         .arg(nTokens));
    m_kNote->setVisible(true);
  } else if (old > nTokens) {
    m_kNote->setText(
        tr("k = %1 is more than the prompt's %2 tokens: k is set to %2.").arg(old).arg(nTokens));
    m_kNote->setVisible(true);
  }
  updateLabels();
}

void SelectionPanel::modelChanged(const ModelInfo& info) {
  m_layer->setRange(0, std::max(0, info.nLayer - 1));
  // Until the first snapshot names the prompt's length (limitK), the context bounds k.
  m_promptTokens = 0;
  m_kCeiling = std::max(1, std::min(info.nCtx > 0 ? info.nCtx : 1024, 1024));
  m_k->setRange(1, m_kCeiling);
  updateLabels();
}

void SelectionPanel::clearData() {
  Panel::clearData();
  m_strip->setOverlay({});
  m_overlap->setRowCount(0);
  m_full->clear();
  m_kept->clear();
  m_reason->clear();
  m_reason->setVisible(false);
}

void SelectionPanel::applyTo(ViewState& state) const {
  state.selection.method = static_cast<SelectMethod>(m_method->currentIndex());
  state.selection.layer = m_follow->isChecked() ? -1 : m_layer->value();
  state.selection.k = m_k->value();
  state.selection.stages = state.selection.method == SelectMethod::PromptDistill
                               ? m_stages->text().trimmed().toStdString()
                               : std::string();
  state.selection.maxPool = m_maxPool->isChecked();
  for (const auto& r : m_params) {
    const int v = r.box->value();
    state.selection.*r.param->field =
        r.param->autoRule && v == r.box->minimum() ? rt::ana::kAuto : v;
  }
}

void SelectionPanel::applyState(const SelectionSettings& settings) {
  const QSignalBlocker block(this);
  m_method->setCurrentIndex(static_cast<int>(settings.method));
  m_follow->setChecked(settings.layer < 0);
  if (settings.layer >= 0) m_layer->setValue(settings.layer);
  // A k above the last prompt's length stays as asked until the next result clamps it with a
  // note (limitK): the session's prompt may be longer.
  m_k->setMaximum(std::max(m_k->maximum(), std::min(settings.k, m_kCeiling)));
  m_k->setValue(settings.k);
  m_stages->setText(QString::fromStdString(settings.stages));
  m_maxPool->setChecked(settings.maxPool);
  for (const auto& r : m_params) {
    const int v = settings.*r.param->field;
    r.box->setValue(v == rt::ana::kAuto && r.param->autoRule ? r.box->minimum() : v);
  }
  updateLabels();
}

SelectionSettings SelectionPanel::state() const {
  ViewState v;
  applyTo(v);
  return v.selection;
}

QString SelectionPanel::answerFull() const {
  return m_full->toPlainText();
}
QString SelectionPanel::answerKept() const {
  return m_kept->toPlainText();
}
QString SelectionPanel::warningText() const {
  return m_warnings->text();
}
QString SelectionPanel::reasonText() const {
  return m_reason->text();
}
QString SelectionPanel::kNoteText() const {
  return m_kNote->isHidden() ? QString() : m_kNote->text();
}

void SelectionPanel::showSnapshot(const SnapshotPtr& snapshot) {
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  limitK(s.nTokens);
  m_reason->setText(s.selectionError.isEmpty() ? s.selectionReason : QString());
  m_reason->setVisible(!m_reason->text().isEmpty());
  if (!s.selectionError.isEmpty()) {
    m_summary->setText(
        tr("<span style='color:#c0392b'>%1</span>").arg(s.selectionError.toHtmlEscaped()));
  } else {
    const int layer = s.state.selection.layer < 0 ? s.layer : s.state.selection.layer;
    m_summary->setText(tr("%1 at layer %2 keeps %3 of %4 tokens (k = %5)")
                           .arg(methodName(s.state.selection.method))
                           .arg(layer)
                           .arg(s.kept.size())
                           .arg(s.nTokens)
                           .arg(s.selectionK));
  }
  QStringList notes;
  for (const QString& w : s.selectionWarnings) notes << QStringLiteral("\u26a0 ") + w;
  m_warnings->setText(notes.join(QLatin1Char('\n')));
  m_warnings->setVisible(!notes.isEmpty());
  vis::TokenOverlay o;
  o.scoreName = methodName(s.state.selection.method).toStdString() + " score";
  std::vector<char> kept(static_cast<size_t>(s.nTokens), 0);
  for (int k : s.kept)
    if (k >= 0 && k < s.nTokens) kept[k] = 1;
  for (int i = 0; i < s.nTokens; ++i)
    o.items.push_back({s.tokens.value(i).toStdString(),
                       i < static_cast<int>(s.scores.size()) ? s.scores[i] : 0.0f,
                       kept[i] ? vis::TokenState::Kept : vis::TokenState::Dropped});
  m_strip->setOverlay(o);
  m_overlap->setRowCount(static_cast<int>(s.overlap.size()));
  for (int i = 0; i < static_cast<int>(s.overlap.size()); ++i) {
    m_overlap->setItem(i, 0, new QTableWidgetItem(s.overlap[i].first));
    m_overlap->setItem(i, 1, new QTableWidgetItem(QString::number(s.overlap[i].second, 'f', 3)));
  }
  if (s.hasAnswers) {
    m_full->setPlainText(s.answerFull);
    m_kept->setPlainText(s.answerKept);
  }
}

}  // namespace ll::ui
