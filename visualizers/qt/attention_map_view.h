// The attention map widget: a HeatmapWindow embedded with QWidget::createWindowContainer, token
// labels on the top (keys) and left (queries) that follow zoom / pan, and a hover readout of
// (query token, key token, value). Takes plain data: a matrix and two token lists.
#pragma once

#include "visualizers/heatmap_types.h"

#include <QStringList>
#include <QWidget>

#include <memory>

class QVulkanInstance;

namespace ll::vis {

class HeatmapWindow;
class TokenAxis;

class AttentionMapView : public QWidget {
  Q_OBJECT
 public:
  // instance may be null (no Vulkan): the view then shows a message instead of the map.
  explicit AttentionMapView(QVulkanInstance* instance, QWidget* parent = nullptr);

  void setMatrix(std::shared_ptr<const HeatmapMatrix> matrix, const QStringList& queryTokens,
                 const QStringList& keyTokens);
  void setStyle(const HeatmapStyle& style);
  HeatmapWindow* heatmapWindow() const { return m_window; }
  QWidget* container() const { return m_container; }
  // The labels shown now (empty when the view shows nothing).
  const QStringList& queryTokens() const { return m_queries; }
  const QStringList& keyTokens() const { return m_keys; }

 signals:
  void hovered(const QString& queryToken, const QString& keyToken, float value, int row, int col);
  void cellClicked(int row, int col);

 private:
  void syncAxes();

  HeatmapWindow* m_window = nullptr;
  QWidget* m_container = nullptr;
  TokenAxis* m_top = nullptr;
  TokenAxis* m_left = nullptr;
  QStringList m_queries;
  QStringList m_keys;
};

}  // namespace ll::vis
