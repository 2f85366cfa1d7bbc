// The attention panel: the Vulkan attention map (vis::AttentionMapView) with a small toolbar for
// colormap, normalisation and LOD reduction, a hover readout line, and the theme's heatmap colours.
#pragma once

#include "visualizers/heatmap_types.h"

#include <QStringList>
#include <QWidget>

#include <memory>

class QComboBox;
class QLabel;
class QVulkanInstance;

namespace ll::vis {
class AttentionMapView;
}

namespace ll::ui {

class HeatmapView : public QWidget {
  Q_OBJECT
 public:
  explicit HeatmapView(QVulkanInstance* instance, QWidget* parent = nullptr);

  void setAttention(std::shared_ptr<const vis::HeatmapMatrix> matrix, const QStringList& tokens);
  vis::AttentionMapView* map() const { return m_map; }
  // The matrix shown now (null when nothing is).
  const std::shared_ptr<const vis::HeatmapMatrix>& matrix() const { return m_matrix; }

  const vis::HeatmapStyle& style() const { return m_style; }

  // Writes the whole map as a PNG through the offscreen Vulkan path.
  bool exportImage(const QString& path, QString* error = nullptr);

 signals:
  void hoverText(const QString& text);

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void applyStyle();

  vis::AttentionMapView* m_map = nullptr;
  QComboBox* m_colormap = nullptr;
  QComboBox* m_norm = nullptr;
  QComboBox* m_lod = nullptr;
  vis::HeatmapStyle m_style;
  std::shared_ptr<const vis::HeatmapMatrix> m_matrix;
};

}  // namespace ll::ui
