// The LayerLens main window: prompt editor, attention panel (Vulkan), plot panel and status bar.
// Until the SessionController arrives it shows a synthetic test heatmap for the prompt words.
#pragma once

#include <QMainWindow>

class QLabel;
class QPlainTextEdit;
class QTimer;
class QVulkanInstance;

namespace ll::vis {
class TokenOverlayView;
}

namespace ll::ui {

class HeatmapView;
class PlotPanel;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  // instance: a created QVulkanInstance, or null / invalid when Vulkan is unavailable.
  explicit MainWindow(QVulkanInstance* instance, QWidget* parent = nullptr);

  QPlainTextEdit* promptEditor() const { return m_prompt; }
  HeatmapView* heatmapView() const { return m_heatmap; }
  PlotPanel* plotPanel() const { return m_plot; }
  vis::TokenOverlayView* tokenOverlay() const { return m_tokens; }

 private:
  void refresh();
  void exportPlot();
  void exportAttention();

  QPlainTextEdit* m_prompt = nullptr;
  HeatmapView* m_heatmap = nullptr;
  PlotPanel* m_plot = nullptr;
  vis::TokenOverlayView* m_tokens = nullptr;
  QLabel* m_device = nullptr;
  QTimer* m_debounce = nullptr;
};

}  // namespace ll::ui
