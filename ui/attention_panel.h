// The attention panel: the Vulkan map of the selected layer and head (or mean / sum over heads),
// the head grid (every layer x head on the last tokens; click selects), the selected query row as
// bars, and each head's induction score.
#pragma once

#include "ui/panel.h"

class QComboBox;
class QCustomPlot;
class QLabel;
class QSpinBox;
class QTableWidget;
class QVulkanInstance;

namespace ll::vis {
class HeadGridView;
}

namespace ll::ui {

class HeatmapView;

class AttentionPanel : public Panel {
  Q_OBJECT
 public:
  AttentionPanel(SelectionModel* selection, QVulkanInstance* instance, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("attention"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void modelChanged(const ModelInfo& info) override;
  QList<QWidget*> figureWidgets() const override;

  HeatmapView* heatmap() const { return m_map; }
  vis::HeadGridView* headGrid() const { return m_grid; }
  QCustomPlot* queryRowPlot() const { return m_row; }
  QTableWidget* inductionTable() const { return m_induction; }
  // The no-model test heatmap: a clearly labelled synthetic pattern over the prompt's words.
  void showTestPattern(const QString& prompt);

 private:
  void syncControls();

  HeatmapView* m_map = nullptr;
  vis::HeadGridView* m_grid = nullptr;
  QCustomPlot* m_row = nullptr;
  QTableWidget* m_induction = nullptr;
  QSpinBox* m_layer = nullptr;
  QComboBox* m_head = nullptr;
  QLabel* m_caption = nullptr;
  bool m_syncing = false;
};

}  // namespace ll::ui
