// The Knockout effect panel (ALGORITHMS.md §10): the attention panel's knockout read out on the
// first answer token, 100·(p_new − p_base)/p_base, and optionally the layer sweep of the same
// token groups knocked out in a window centred on each layer (a curve over layers).
#pragma once

#include "ui/panel.h"

class QCheckBox;
class QCustomPlot;
class QLabel;
class QSpinBox;

namespace ll::ui {

class KnockoutPanel : public Panel {
  Q_OBJECT
 public:
  explicit KnockoutPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("knockout"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  // Session restore: the readout settings into the controls, without settingsChanged.
  void applyState(const rt::ana::KnockoutReadoutRequest& request);

  QCheckBox* sweepBox() const { return m_sweep; }
  QSpinBox* windowBox() const { return m_window; }
  QCustomPlot* plot() const { return m_plot; }
  QString summary() const;

 private:
  QCheckBox* m_sweep = nullptr;
  QSpinBox* m_window = nullptr;
  QLabel* m_summary = nullptr;
  QCustomPlot* m_plot = nullptr;
};

}  // namespace ll::ui
