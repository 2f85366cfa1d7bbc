// The output panel: the model's greedy continuation of the prompt and the top-k next tokens with
// their probabilities.
#pragma once

#include "ui/panel.h"

class QLabel;
class QPlainTextEdit;
class QSpinBox;
class QTableWidget;

namespace ll::ui {

class OutputPanel : public Panel {
  Q_OBJECT
 public:
  explicit OutputPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("output"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;

  QString continuation() const;
  QTableWidget* topTable() const { return m_top; }

 private:
  QPlainTextEdit* m_text = nullptr;
  QTableWidget* m_top = nullptr;
  QSpinBox* m_tokens = nullptr;
  QLabel* m_stats = nullptr;
};

}  // namespace ll::ui
