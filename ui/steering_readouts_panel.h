// The Steering readouts panel (ALGORITHMS.md §8): for the Steering panel's vector, KL(p_alpha ||
// p_0) and the entropy of the next token after the selected token as alpha sweeps (current alpha
// marked, top-1 changes named), and the same with the vector added at each layer at the current
// alpha, with alpha ||v|| / mean ||h_l|| per layer.
#pragma once

#include "ui/panel.h"

class QCheckBox;
class QCustomPlot;
class QCPItemStraightLine;
class QLabel;

namespace ll::ui {

class SteeringReadoutsPanel : public Panel {
  Q_OBJECT
 public:
  // Graphs of the two plots, in creation order.
  enum AlphaGraph { kAlphaKl = 0, kAlphaEntropy = 1, kAlphaCurrent = 2 };
  enum LayerGraph { kLayerKl = 0, kLayerEntropy = 1, kLayerPush = 2 };

  explicit SteeringReadoutsPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("steerread"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  // Session restore: the settings into the controls, without settingsChanged.
  void applyState(const SteeringReadoutSettings& settings);

  QCheckBox* enabledBox() const { return m_enabled; }
  QCheckBox* layerSweepBox() const { return m_layers; }
  QCustomPlot* alphaPlot() const { return m_alpha; }
  QCustomPlot* layerPlot() const { return m_layer; }
  // x of the current-alpha line on the alpha plot (|alpha|; 0 when it is not drawn) and of the
  // steered-layer line on the layer plot (-1 when not drawn).
  double alphaMarker() const;
  double layerMarker() const;
  QString status() const;
  QString caption() const;
  QString top1Text() const;
  QString layerNote() const;

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void restyle();
  void drawAlphaSweep(const Snapshot& s);
  void drawLayerSweep(const Snapshot& s);

  QCheckBox* m_enabled = nullptr;
  QCheckBox* m_layers = nullptr;
  QLabel* m_caption = nullptr;
  QLabel* m_status = nullptr;
  QLabel* m_top1 = nullptr;
  QLabel* m_note = nullptr;
  QCustomPlot* m_alpha = nullptr;
  QCustomPlot* m_layer = nullptr;
  QCPItemStraightLine* m_alphaLine = nullptr;
  QCPItemStraightLine* m_baseLine = nullptr;
  QCPItemStraightLine* m_layerLine = nullptr;
};

}  // namespace ll::ui
