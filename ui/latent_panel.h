// The Latent language panel (ALGORITHMS.md §16): two answer words and, per layer, the logit-lens
// probability of each at the last token, e.g. a French answer against its English equivalent.
#pragma once

#include "ui/panel.h"

class QCustomPlot;
class QLabel;
class QLineEdit;

namespace ll::ui {

class LatentPanel : public Panel {
  Q_OBJECT
 public:
  explicit LatentPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("latent"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  // Session restore: the words into the fields, without settingsChanged.
  void applyState(const LatentLanguageSettings& settings);

  QLineEdit* wordAEdit() const { return m_wordA; }
  QLineEdit* wordBEdit() const { return m_wordB; }
  QCustomPlot* plot() const { return m_plot; }
  QString status() const;

 private:
  QLineEdit* m_wordA = nullptr;
  QLineEdit* m_wordB = nullptr;
  QLabel* m_status = nullptr;
  QCustomPlot* m_plot = nullptr;
};

}  // namespace ll::ui
