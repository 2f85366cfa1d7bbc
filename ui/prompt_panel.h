// The prompt panel: the editor, token count, chat-template toggle, token boundaries on demand and
// the token-selection overlay (kept / dropped / score) drawn on the text itself as extra
// selections over each token's character span; clicking in the text selects that token.
#pragma once

#include "ui/panel.h"

#include <vector>

class QAction;
class QCheckBox;
class QLabel;
class QPlainTextEdit;

namespace ll::vis {
class TokenOverlayView;
}

namespace ll::ui {

class PromptPanel : public Panel {
  Q_OBJECT
 public:
  explicit PromptPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("prompt"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void modelChanged(const ModelInfo& info) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;

  // Session restore: the chat-template switch (stays off when the model has no usable template).
  void setChatTemplate(bool on);

  QPlainTextEdit* editor() const { return m_edit; }
  vis::TokenOverlayView* chips() const { return m_chips; }
  QCheckBox* boundariesBox() const { return m_bounds; }
  QCheckBox* overlayBox() const { return m_overlay; }
  QCheckBox* templateBox() const { return m_template; }
  // Tab moves the focus out of the editor; this action (Ctrl+Shift+I, editor focus only) types a
  // literal tab instead. Ctrl+Tab is left alone: some styles switch dock tabs with it.
  QAction* insertTabAction() const { return m_insertTab; }
  // Token indices the overlay currently draws as kept (empty when the overlay is off).
  const std::vector<int>& drawnKept() const { return m_drawnKept; }
  int tokenAtCharacter(int pos) const;

 signals:
  void promptEdited();  // the text changed (the window debounces)

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void redraw();

  QPlainTextEdit* m_edit = nullptr;
  QAction* m_insertTab = nullptr;
  QCheckBox* m_bounds = nullptr;
  QCheckBox* m_overlay = nullptr;
  QCheckBox* m_template = nullptr;
  QLabel* m_templateNote = nullptr;
  QLabel* m_count = nullptr;
  vis::TokenOverlayView* m_chips = nullptr;
  std::vector<int> m_drawnKept;
};

}  // namespace ll::ui
