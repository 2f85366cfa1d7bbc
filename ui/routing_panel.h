// The routing panel (MoE models): the token x expert routing matrix of the selected layer (or
// layer x expert of the selected token), the expert load, and per-expert bias / force / ban
// controls applied in the chosen layers; the effect on the next token and continuation shows at
// once (the edits go into every recomputation).
#pragma once

#include "ui/panel.h"

#include <vector>

class QComboBox;
class QCustomPlot;
class QGridLayout;
class QLabel;
class QPushButton;
class QSlider;
class QVulkanInstance;

namespace ll::vis {
class RoutingView;
}

namespace ll::ui {

class RouterEditList;
struct RouterEditRow;

class RoutingPanel : public Panel {
  Q_OBJECT
 public:
  RoutingPanel(SelectionModel* selection, QVulkanInstance* instance, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("routing"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void modelChanged(const ModelInfo& info) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  // Session restore (after modelChanged). Edits on `selectedLayer` alone go to the expert
  // controls under "selected layer"; the same edits on every layer under "all MoE layers";
  // anything else (other layers, mixes per layer, soft promotion) is kept verbatim under "as
  // loaded (per layer)". Emits no settingsChanged.
  void applyState(const std::vector<rt::RouterEdit>& edits, int selectedLayer);
  // The edits the next run uses (the selected layer from the shared selection).
  std::vector<rt::RouterEdit> routerEdits() const;
  // Test / scripting hooks: expert e's bias (router logit units) and mode (0 none, 1 force, 2 ban).
  void setExpertEdit(int expert, double bias, int mode);
  QComboBox* layersBox() const { return m_layers; }
  // Expert e's force / ban box and bias slider (null past the expert count).
  QComboBox* expertModeBox(int e) const {
    return e >= 0 && e < int(m_force.size()) ? m_force[e] : nullptr;
  }
  QSlider* expertBiasSlider(int e) const {
    return e >= 0 && e < int(m_bias.size()) ? m_bias[e] : nullptr;
  }
  // The list of edits in force (one row per edit, each removable) and "Reset all edits".
  RouterEditList* editList() const { return m_list; }
  QPushButton* resetButton() const { return m_reset; }
  // Removes every router edit (expert controls and loaded per-layer edits) and recomputes.
  void resetAllEdits();
  // Adds edits from elsewhere (the Expert contrast panel's one-click actions, named by `what`):
  // each replaces what its (layer, expert) had; the edits in force go verbatim under "as loaded
  // (per layer)", so they stay in their layers; the run follows at once.
  void addEdits(const std::vector<rt::RouterEdit>& edits, const QString& what);
  // What the last scope change did to the edits ("copied 3 edits of layer 2 to all 8 layers").
  QString scopeNoteText() const;
  QCustomPlot* loadPlot() const { return m_load; }
  vis::RoutingView* view() const { return m_view; }
  QString infoText() const;
  QString effectText() const;

 private:
  void showMatrix();
  void clearView();
  std::vector<rt::RouterEdit> editsFromControls(int selectedLayer) const;
  void resetControls();
  // The listed edits: the expert controls' (layers named by the scope) or the loaded ones; each
  // with what removing it does (loaded: its index in m_loaded; controls: expert and kind).
  struct Listed {
    int expert = 0;
    rt::RouterEditKind kind = rt::RouterEditKind::Bias;
    float value = 0.0f;
    int layer = -1;        // -1: every layer (scope "all")
    int loadedIndex = -1;  // >= 0: m_loaded[loadedIndex]
  };
  std::vector<Listed> listedEdits() const;
  std::vector<Listed> controlEdits(int layer) const;  // the expert controls' edits in one layer
  void refreshList();
  void removeListed(int row);
  void scopeChanged(int scope);
  QWidget* buildEditors(QWidget* parent);  // scope, reset, expert controls, edit list, effect
  void buildExpertControls(int nExpert);

  vis::RoutingView* m_view = nullptr;
  QCustomPlot* m_load = nullptr;
  QComboBox* m_mode = nullptr;
  QComboBox* m_layers = nullptr;
  QLabel* m_info = nullptr;
  QLabel* m_effect = nullptr;
  QLabel* m_scopeNote = nullptr;
  RouterEditList* m_list = nullptr;
  QPushButton* m_reset = nullptr;
  int m_scope = 0;  // the scope box's index before its last change
  QGridLayout* m_grid = nullptr;
  QWidget* m_editors = nullptr;
  std::vector<QSlider*> m_bias;
  std::vector<QComboBox*> m_force;
  std::vector<QLabel*> m_biasLabel;
  int m_nExpert = 0;
  int m_nLayer = 0;
  std::vector<rt::RouterEdit> m_loaded;  // "as loaded (per layer)"
};

}  // namespace ll::ui
