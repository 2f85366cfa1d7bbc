// The Layer skip panel (ALGORITHMS.md §15 with §11): per layer, KL(p || p_skip) at the selected
// token and its mean over the prompt as bars, markers where the top-1 changes, and the update
// size ||Delta_l|| / ||h_{l-1}|| and cos(Delta_l, h_{l-1}) with the "active layer" marks.
#pragma once

#include "ui/panel.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QLabel;

namespace ll::ui {

class LayerSkipPanel : public Panel {
  Q_OBJECT
 public:
  explicit LayerSkipPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("layerskip"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  // Session restore: the settings into the controls, without settingsChanged.
  void applyState(const LayerSkipSettings& settings);

  QCheckBox* enabledBox() const { return m_enabled; }
  QComboBox* partBox() const { return m_part; }
  QCustomPlot* klPlot() const { return m_kl; }
  QCustomPlot* updatePlot() const { return m_update; }
  QString status() const;

 private:
  QCheckBox* m_enabled = nullptr;
  QComboBox* m_part = nullptr;
  QLabel* m_caption = nullptr;
  QLabel* m_status = nullptr;
  QCustomPlot* m_kl = nullptr;
  QCustomPlot* m_update = nullptr;
};

}  // namespace ll::ui
