// The attention panel: the Vulkan map of the selected layer and head (or mean / sum over heads),
// the head grid (every layer x head on the last tokens; click selects), the selected query row as
// bars, and each head's induction score.
#pragma once

#include "ui/panel.h"

#include <optional>
#include <vector>

class QCheckBox;
class QComboBox;
class QLineEdit;
class QCustomPlot;
class QLabel;
class QSpinBox;
class QTableWidget;
class QVulkanInstance;

namespace ll::vis {
class HeadGridView;
class TokenTicks;
}  // namespace ll::vis

namespace ll::ui {

class HeatmapView;

// Token index lists as the knockout fields show them: "13-22" or "0,2,5-7" (ascending, unique).
QString formatIndexList(const std::vector<int>& indices);
// The reverse; nullopt for text that is not such a list (negative, descending, huge ranges).
std::optional<std::vector<int>> parseIndexList(const QString& text);

class AttentionPanel : public Panel {
  Q_OBJECT
 public:
  AttentionPanel(SelectionModel* selection, QVulkanInstance* instance, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("attention"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void modelChanged(const ModelInfo& info) override;
  void clearData() override;
  QList<QWidget*> figureWidgets() const override;
  void applyTo(ViewState& state) const override;

  // Attention knockout (from tokens may not attend to tokens in layers first..last): session
  // restore into the controls, and what the next run uses (nullopt: off or not a valid entry).
  // applyKnockout emits no settingsChanged.
  void applyKnockout(const std::optional<rt::Knockout>& knockout);
  std::optional<rt::Knockout> knockout() const;
  QCheckBox* knockoutBox() const { return m_koEnabled; }
  QLineEdit* knockoutFromEdit() const { return m_koFrom; }
  QLineEdit* knockoutToEdit() const { return m_koTo; }
  QLineEdit* knockoutLayersEdit() const { return m_koLayers; }

  HeatmapView* heatmap() const { return m_map; }
  vis::HeadGridView* headGrid() const { return m_grid; }
  QCustomPlot* queryRowPlot() const { return m_row; }
  // Key tokens labelled under the query-row plot now (thinned to its width).
  QList<int> queryRowLabelledTokens() const;
  QTableWidget* inductionTable() const { return m_induction; }
  QString captionText() const;
  // The no-model test heatmap: a clearly labelled synthetic pattern over the prompt's words.
  void showTestPattern(const QString& prompt);

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void syncControls();
  void syncMarkers();
  void applyGridTheme();
  void clearMap();

  HeatmapView* m_map = nullptr;
  vis::HeadGridView* m_grid = nullptr;
  QCustomPlot* m_row = nullptr;
  vis::TokenTicks* m_rowTicks = nullptr;
  QTableWidget* m_induction = nullptr;
  QSpinBox* m_layer = nullptr;
  QComboBox* m_head = nullptr;
  QLabel* m_caption = nullptr;
  QCheckBox* m_koEnabled = nullptr;
  QLineEdit* m_koFrom = nullptr;
  QLineEdit* m_koTo = nullptr;
  QLineEdit* m_koLayers = nullptr;
  QLabel* m_koNote = nullptr;
  bool m_syncing = false;
  // Key column framed on the map: the key last clicked while its row is the selected token;
  // otherwise the selected token's own column (-1 in m_clickedKey).
  int m_clickedKey = -1;
  int m_clickedRow = -1;
};

}  // namespace ll::ui
