// The Flow routes panel (ALGORITHMS.md §14): the information-flow graph of the prompt with the
// routes to the selected token highlighted, a threshold control and a Compute box (the graph costs
// about a prefill on long prompts, so it is off by default and computed on the worker).
#pragma once

#include "ui/panel.h"

class QCheckBox;
class QDoubleSpinBox;
class QLabel;

namespace ll::ui {

class FlowView;

class FlowPanel : public Panel {
  Q_OBJECT
 public:
  explicit FlowPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("flow"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  // Session restore: the settings into the controls, without settingsChanged.
  void applyState(const FlowSettings& settings);

  QCheckBox* enabledBox() const { return m_enabled; }
  QDoubleSpinBox* thresholdBox() const { return m_threshold; }
  FlowView* view() const { return m_view; }
  QString status() const;

 private:
  void showRoutes();

  QCheckBox* m_enabled = nullptr;
  QDoubleSpinBox* m_threshold = nullptr;
  QLabel* m_status = nullptr;
  FlowView* m_view = nullptr;
};

}  // namespace ll::ui
