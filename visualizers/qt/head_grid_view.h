// Head grid widget: every layer x head attention map as small multiples from one atlas texture
// (vis::buildHeadGridAtlas) drawn by the Vulkan heatmap, with layer / head labels beside it, the
// selected head framed and a readout at the pointer; clicking a head selects it (signal).
#pragma once

#include "visualizers/head_grid.h"

#include <QStringList>
#include <QWidget>

#include <memory>

class QLabel;
class QVulkanInstance;

namespace ll::vis {

class HeadGridAxis;
class HeatmapWindow;

class HeadGridView : public QWidget {
  Q_OBJECT
 public:
  explicit HeadGridView(QVulkanInstance* instance, QWidget* parent = nullptr);

  // attention: nLayer x nHead x nTokens x nTokens (see buildHeadGridAtlas). tokens: labels of
  // those nTokens tokens, the first being token number firstToken of the prompt (readout).
  void setAttention(std::span<const float> attention, int nLayer, int nHead, int nTokens,
                    const QStringList& tokens = {}, int firstToken = 0);
  const HeadGridAtlas* atlas() const { return m_atlas.get(); }
  void clear();  // shows nothing
  HeatmapWindow* heatmapWindow() const { return m_window; }
  QWidget* container() const { return m_container; }
  HeadGridAxis* layerAxis() const { return m_layers; }
  HeadGridAxis* headAxis() const { return m_heads; }
  void setStyle(const HeatmapStyle& style);
  // Frames the tile of (layer, head); head < 0 (sum / mean over heads) frames the layer's row;
  // layer < 0 frames nothing.
  void setSelectedHead(int layer, int head);
  // The readout shown at the pointer for an atlas hit (rich text, token labels escaped).
  QString hoverReadout(const HeadGridAtlas::Hit& hit, float value) const;

 signals:
  void headSelected(int layer, int head);
  void headHovered(int layer, int head, int query, int key, float value);

 private:
  void syncAxes();
  void syncMarker();

  std::shared_ptr<HeadGridAtlas> m_atlas;
  HeatmapWindow* m_window = nullptr;
  QWidget* m_container = nullptr;
  QLabel* m_caption = nullptr;
  HeadGridAxis* m_layers = nullptr;
  HeadGridAxis* m_heads = nullptr;
  QStringList m_tokens;
  int m_firstToken = 0;
  int m_selLayer = -1;
  int m_selHead = -1;
};

}  // namespace ll::vis
