// Head grid widget: every layer x head attention map as small multiples from one atlas texture
// (vis::buildHeadGridAtlas) drawn by the Vulkan heatmap; clicking a head selects it (signal).
#pragma once

#include "visualizers/head_grid.h"

#include <QWidget>

#include <memory>

class QLabel;
class QVulkanInstance;

namespace ll::vis {

class HeatmapWindow;

class HeadGridView : public QWidget {
  Q_OBJECT
 public:
  explicit HeadGridView(QVulkanInstance* instance, QWidget* parent = nullptr);

  // attention: nLayer x nHead x nTokens x nTokens (see buildHeadGridAtlas).
  void setAttention(std::span<const float> attention, int nLayer, int nHead, int nTokens);
  const HeadGridAtlas* atlas() const { return m_atlas.get(); }
  void clear();  // shows nothing
  HeatmapWindow* heatmapWindow() const { return m_window; }
  void setStyle(const HeatmapStyle& style);

 signals:
  void headSelected(int layer, int head);
  void headHovered(int layer, int head, int query, int key, float value);

 private:
  std::shared_ptr<HeadGridAtlas> m_atlas;
  HeatmapWindow* m_window = nullptr;
  QLabel* m_caption = nullptr;
};

}  // namespace ll::vis
