#include "ui/prompt_panel.h"

#include "ui/selection_model.h"
#include "visualizers/colormap.h"
#include "visualizers/qt/token_overlay_view.h"

#include <QAction>
#include <QCheckBox>
#include <QGridLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPlainTextEdit>
#include <QSignalBlocker>
#include <QTextBlock>
#include <QVBoxLayout>

#include <algorithm>

namespace ll::ui {

PromptPanel::PromptPanel(SelectionModel* selection, QWidget* parent) : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  m_edit = new QPlainTextEdit(this);
  m_edit->viewport()->installEventFilter(this);
  // Tab belongs to keyboard navigation (a prompt rarely needs a tab character); the editor's own
  // action inserts one, and Help > Keyboard shortcuts lists it with the menus' shortcuts.
  m_edit->setTabChangesFocus(true);
  m_edit->setAccessibleName(tr("Prompt editor"));
  m_insertTab = new QAction(tr("Insert a tab in the prompt"), m_edit);
  m_insertTab->setObjectName(QStringLiteral("promptInsertTab"));
  m_insertTab->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_I));
  m_insertTab->setShortcutContext(Qt::WidgetShortcut);
  connect(m_insertTab, &QAction::triggered, m_edit,
          [this] { m_edit->insertPlainText(QStringLiteral("\t")); });
  m_edit->addAction(m_insertTab);
  m_edit->setPlaceholderText(
      tr("Type a prompt... (Tab moves to the next control; %1 inserts a tab)")
          .arg(m_insertTab->shortcut().toString(QKeySequence::NativeText)));
  v->addWidget(m_edit, 3);
  // Two rows of options rather than one: the prompt dock fits a 1024x700 window's left column.
  auto* row = new QGridLayout;
  m_count = new QLabel(tr("0 tokens"), this);
  m_bounds = new QCheckBox(tr("Token boundaries"), this);
  m_overlay = new QCheckBox(tr("Selection overlay"), this);
  m_overlay->setChecked(true);
  m_template = new QCheckBox(tr("Chat template"), this);
  m_template->setEnabled(false);
  m_templateNote = new QLabel(this);
  m_templateNote->setWordWrap(true);
  row->addWidget(m_count, 0, 0);
  row->addWidget(m_bounds, 0, 1);
  row->addWidget(m_overlay, 1, 0);
  row->addWidget(m_template, 1, 1);
  row->setColumnStretch(2, 1);
  v->addLayout(row);
  v->addWidget(m_templateNote);
  m_chips = new vis::TokenOverlayView(this);
  v->addWidget(m_chips, 2);
  connect(m_edit, &QPlainTextEdit::textChanged, this, &PromptPanel::promptEdited);
  connect(m_bounds, &QCheckBox::toggled, this, &PromptPanel::redraw);
  connect(m_overlay, &QCheckBox::toggled, this, &PromptPanel::redraw);
  connect(m_template, &QCheckBox::toggled, this, &Panel::settingsChanged);
  connect(m_chips, &vis::TokenOverlayView::tokenClicked, this,
          [this](int i) { m_selection->setToken(i); });
  connect(m_selection, &SelectionModel::changed, this, &PromptPanel::redraw);
}

void PromptPanel::modelChanged(const ModelInfo& info) {
  const bool usable = info.hasTemplate && !info.chatFormat.isEmpty();
  m_template->setEnabled(usable);
  if (!usable) m_template->setChecked(false);
  if (!info.hasTemplate)
    m_templateNote->setText(tr("This model carries no chat template: the prompt is used as is."));
  else if (!usable)
    m_templateNote->setText(
        tr("The model's chat template is not a recognised format (ChatML, Llama 2/3, Zephyr, "
           "Phi-3, Gemma); the prompt is used as is."));
  else
    m_templateNote->setText(
        tr("Chat template: a single user turn is written in the %1 format the model's template "
           "uses (the Jinja template itself is not executed).")
            .arg(info.chatFormat));
}

void PromptPanel::setChatTemplate(bool on) {
  const QSignalBlocker block(this);
  m_template->setChecked(on && m_template->isEnabled());
}

void PromptPanel::applyTo(ViewState& state) const {
  state.prompt = m_edit->toPlainText().toStdString();
  state.chatTemplate = m_template->isEnabled() && m_template->isChecked();
}

int PromptPanel::tokenAtCharacter(int pos) const {
  if (!m_snapshot) return -1;
  const auto& sp = m_snapshot->charSpans;
  for (size_t i = 0; i < sp.size(); ++i)
    if (sp[i].first >= 0 && pos >= sp[i].first && pos < sp[i].second) return static_cast<int>(i);
  return -1;
}

bool PromptPanel::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_edit->viewport() && event->type() == QEvent::MouseButtonRelease) {
    auto* me = static_cast<QMouseEvent*>(event);
    const int pos = m_edit->cursorForPosition(me->position().toPoint()).position();
    const int t = tokenAtCharacter(pos);
    if (t >= 0) m_selection->setToken(t);
  }
  return Panel::eventFilter(watched, event);
}

void PromptPanel::clearData() {
  Panel::clearData();
  redraw();  // the previous tokenizer's token spans go
}

void PromptPanel::showSnapshot(const SnapshotPtr& snapshot) {
  m_snapshot = snapshot;
  m_count->setText(tr("%n token(s)", nullptr, snapshot ? snapshot->nTokens : 0));
  redraw();
}

void PromptPanel::redraw() {
  QList<QTextEdit::ExtraSelection> sels;
  m_drawnKept.clear();
  const Snapshot* s = m_snapshot.get();
  // Spans only match the text the snapshot was computed for; while the user types, the old
  // overlay is dropped rather than drawn on the wrong characters.
  if (!s || s->state.prompt != m_edit->toPlainText().toStdString()) {
    m_edit->setExtraSelections(sels);
    return;
  }
  const int T = s->nTokens;
  const bool overlay = m_overlay->isChecked() && !s->kept.empty();
  std::vector<char> kept(static_cast<size_t>(T), 0);
  for (int k : s->kept)
    if (k >= 0 && k < T) kept[k] = 1;
  float lo = 0.0f, hi = 1.0f;
  if (!s->scores.empty()) {
    auto [mn, mx] = std::minmax_element(s->scores.begin(), s->scores.end());
    lo = *mn;
    hi = *mx > *mn ? *mx : *mn + 1.0f;
  }
  const int selected = s->token;
  vis::TokenOverlay chips;
  chips.scoreName = methodName(s->state.selection.method).toStdString() + " score";
  for (int i = 0; i < T; ++i) {
    vis::TokenOverlayItem item;
    item.text = s->tokens.value(i).toStdString();
    item.score = i < static_cast<int>(s->scores.size()) ? s->scores[i] : 0.0f;
    item.state = !overlay  ? vis::TokenState::Neutral
                 : kept[i] ? vis::TokenState::Kept
                           : vis::TokenState::Dropped;
    chips.items.push_back(std::move(item));
    const auto [b, e] = s->charSpans[i];
    if (b < 0 || e <= b) continue;
    QTextEdit::ExtraSelection sel;
    sel.cursor = QTextCursor(m_edit->document());
    sel.cursor.setPosition(b);
    sel.cursor.setPosition(e, QTextCursor::KeepAnchor);
    bool any = false;
    if (overlay) {
      if (kept[i]) {
        const float t = std::clamp((chips.items[i].score - lo) / (hi - lo), 0.0f, 1.0f);
        const auto& lut = vis::colormapLut(vis::Colormap::Viridis);
        const int idx = std::clamp(static_cast<int>((0.35f + 0.65f * t) * 255.0f), 0, 255);
        QColor c(lut[idx * 4], lut[idx * 4 + 1], lut[idx * 4 + 2]);
        c.setAlpha(110);
        sel.format.setBackground(c);
        m_drawnKept.push_back(i);
      } else {
        sel.format.setForeground(QColor(140, 140, 140));
        sel.format.setFontStrikeOut(true);
      }
      any = true;
    }
    if (m_bounds->isChecked()) {
      sel.format.setUnderlineStyle(QTextCharFormat::SingleUnderline);
      sel.format.setUnderlineColor(i % 2 ? QColor(230, 126, 34) : QColor(52, 152, 219));
      if (!overlay)
        sel.format.setBackground(i % 2 ? QColor(52, 152, 219, 40) : QColor(230, 126, 34, 40));
      any = true;
    }
    if (i == selected) {
      sel.format.setFontUnderline(true);
      sel.format.setUnderlineStyle(QTextCharFormat::WaveUnderline);
      sel.format.setUnderlineColor(QColor(231, 76, 60));
      any = true;
    }
    if (!any) continue;
    // Neighbouring tokens drawn alike share one selection: every selection costs a clip path
    // on each repaint of the editor (a 500-token prompt with the overlay on was 500 of them).
    if (!sels.isEmpty() && sels.last().cursor.selectionEnd() == b &&
        sels.last().format == sel.format)
      sels.last().cursor.setPosition(e, QTextCursor::KeepAnchor);
    else
      sels.append(sel);
  }
  m_edit->setExtraSelections(sels);
  m_chips->setOverlay(chips);
}

}  // namespace ll::ui
