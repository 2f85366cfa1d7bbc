// The Attribution panel (ALGORITHMS.md §13): the selected token's logit of a target token (the
// model's top-1 unless one is typed, minus an optional other token) split into per-layer attention
// and MLP terms (bar chart) and per-head terms (layer x head map), with their total beside the
// model's logit. Computed on the worker under the run's interventions.
#pragma once

#include "ui/panel.h"

class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QLabel;
class QLineEdit;

namespace ll::ui {

class AttributionPanel : public Panel {
  Q_OBJECT
 public:
  explicit AttributionPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("attribution"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  // Sets the request fields (sessions) without asking for a recomputation.
  void applyState(const AttributionSettings& settings);
  QLineEdit* targetEdit() const { return m_target; }
  QLineEdit* otherEdit() const { return m_other; }
  QCustomPlot* layerPlot() const { return m_layers; }
  QCustomPlot* headPlot() const { return m_heads; }
  QCPColorMap* headMap() const { return m_map; }
  QString summaryText() const;

 protected:
  void changeEvent(QEvent* e) override;

 private:
  // Colours applyPlotTheme does not reach: the bars' brushes and the colour scale's axis.
  void restyle();
  void showLayers(const Snapshot& s);
  void showHeads(const Snapshot& s);

  QLineEdit* m_target = nullptr;
  QLineEdit* m_other = nullptr;
  QLabel* m_summary = nullptr;
  QCustomPlot* m_layers = nullptr;
  QCustomPlot* m_heads = nullptr;
  QCPColorMap* m_map = nullptr;
  QCPColorScale* m_scale = nullptr;
};

}  // namespace ll::ui
