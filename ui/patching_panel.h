// The Patching panel (ALGORITHMS.md §12): the prompt as the clean run against a second prompt of
// the same token count (or noise on a token span); the normalised effect of patching the chosen
// component at every (layer, position) as a layer x token heatmap, and per head at the last
// token. Opt-in (Compute), computed on the worker's helper session, cancelled by a new prompt.
#pragma once

#include "ui/panel.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace ll::vis {
class TokenTicks;
}

namespace ll::ui {

class PatchingPanel : public Panel {
  Q_OBJECT
 public:
  explicit PatchingPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("patching"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  // Session restore: the settings into the controls, without settingsChanged.
  void applyState(const PatchingSettings& settings);
  // The running sweep's progress (passes done of total), shown until its result arrives.
  void showProgress(int done, int total);

  QCheckBox* enabledBox() const { return m_enabled; }
  QLineEdit* corruptEdit() const { return m_corrupt; }
  QCheckBox* noiseBox() const { return m_noise; }
  QSpinBox* noiseBeginBox() const { return m_noiseBegin; }
  QSpinBox* noiseEndBox() const { return m_noiseEnd; }
  QLineEdit* targetEdit() const { return m_target; }
  QLineEdit* otherEdit() const { return m_other; }
  QComboBox* componentBox() const { return m_component; }
  QComboBox* metricBox() const { return m_metric; }
  QComboBox* directionBox() const { return m_direction; }
  QCustomPlot* effectPlot() const { return m_plot; }
  QCPColorMap* effectMap() const { return m_map; }
  QCustomPlot* headPlot() const { return m_headPlot; }
  QCPColorMap* headMap() const { return m_headMap; }
  QString status() const;
  // The tooltip text of the effect map at (layer, token), "" outside it.
  QString readout(int layer, int token) const;

 protected:
  void changeEvent(QEvent* e) override;

 private:
  QWidget* buildControls();
  void restyle();
  void showEffect(const Snapshot& s);
  void showHeads(const Snapshot& s);
  // The (layer, token) cell under a point of the effect plot; false outside the map.
  bool cellAt(const QPointF& pos, int* layer, int* token) const;

  QCheckBox* m_enabled = nullptr;
  QLineEdit* m_corrupt = nullptr;
  QCheckBox* m_noise = nullptr;
  QSpinBox* m_noiseBegin = nullptr;
  QSpinBox* m_noiseEnd = nullptr;
  QLineEdit* m_target = nullptr;
  QLineEdit* m_other = nullptr;
  QComboBox* m_component = nullptr;
  QComboBox* m_metric = nullptr;
  QComboBox* m_direction = nullptr;
  QLabel* m_caption = nullptr;
  QLabel* m_status = nullptr;
  QCustomPlot* m_plot = nullptr;
  QCPColorMap* m_map = nullptr;
  QCPColorScale* m_scale = nullptr;
  vis::TokenTicks* m_ticks = nullptr;
  QCustomPlot* m_headPlot = nullptr;
  QCPColorMap* m_headMap = nullptr;
  QCPColorScale* m_headScale = nullptr;
};

}  // namespace ll::ui
