// QVulkanWindow adapter of the plain-Vulkan heatmap core: owns the matrix handed to it (plain
// data, never a Session), the style and the view, handles zoom / pan (mouse and keys) and reports
// the hovered cell. Embed it with QWidget::createWindowContainer (see AttentionMapView).
#pragma once

#include "visualizers/heatmap_types.h"

#include <QVulkanWindow>

#include <memory>

namespace ll::vis {

class HeatmapWindow : public QVulkanWindow {
  Q_OBJECT
 public:
  explicit HeatmapWindow(QWindow* parent = nullptr);
  ~HeatmapWindow() override;

  QVulkanWindowRenderer* createRenderer() override;

  void setMatrix(std::shared_ptr<const HeatmapMatrix> matrix);
  const std::shared_ptr<const HeatmapMatrix>& matrix() const { return m_matrix; }
  void setStyle(const HeatmapStyle& style);
  const HeatmapStyle& style() const { return m_style; }
  // Selected cells the renderer frames (see HeatmapMarker); default none.
  void setMarker(const HeatmapMarker& marker);
  const HeatmapMarker& marker() const { return m_marker; }

  // View in swapchain (device) pixels.
  const HeatmapView& view() const { return m_view; }
  void setView(const HeatmapView& view);
  void fitView();
  // Square cells when fitting (head grid); off by default (attention maps fill the area).
  void setKeepAspect(bool keep) { m_keepAspect = keep; }
  // Fit again when a matrix of another shape arrives, even after zoom / pan (head grid: a zoom
  // kept from a smaller atlas would cut off its last rows). Off by default: the attention map
  // keeps the user's zoom while the prompt grows.
  void setRefitOnNewShape(bool refit) { m_refitOnNewShape = refit; }
  void zoomAt(QPointF logicalPos, double factor);
  void panBy(QPointF logicalDelta);
  // Data cell (col, row) under a logical window position (may be outside the matrix).
  QPointF cellAt(QPointF logicalPos) const;
  // Where the pointer was at the last hovered() signal (logical window pixels): a readout goes
  // next to it.
  QPointF hoverPos() const { return m_hoverPos; }
  int framesRendered() const { return m_frames; }
  // Times the renderer has built its device resources (once, unless the window lost them).
  int resourcesCreated() const { return m_resourcesCreated; }
  QString deviceName() const;

  // Used by the renderer adapter.
  quint64 dataGeneration() const { return m_dataGeneration; }
  void noteFrameRendered();
  void noteResourcesCreated() { ++m_resourcesCreated; }

 signals:
  void hovered(int row, int col, float value);
  void hoverLeft();
  void cellClicked(int row, int col);
  void viewChanged();
  void frameRendered();
  void renderError(const QString& message);

 protected:
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;
  void wheelEvent(QWheelEvent* e) override;
  void keyPressEvent(QKeyEvent* e) override;
  void resizeEvent(QResizeEvent* e) override;
  bool event(QEvent* e) override;

 private:
  void clampView();

  std::shared_ptr<const HeatmapMatrix> m_matrix;
  HeatmapStyle m_style;
  HeatmapMarker m_marker;
  HeatmapView m_view;
  bool m_autoFit = true;
  bool m_keepAspect = false;
  bool m_refitOnNewShape = false;
  quint64 m_dataGeneration = 0;
  int m_frames = 0;
  int m_resourcesCreated = 0;
  bool m_dragging = false;
  bool m_dragMoved = false;
  QPointF m_lastPos;
  QPointF m_hoverPos;
};

}  // namespace ll::vis
