// The attention map widget: a HeatmapWindow embedded with QWidget::createWindowContainer, token
// labels on the top (keys) and left (queries) that follow zoom / pan, a colour bar on the right,
// the selected query row / key column framed by the renderer, and a hover readout of (query token,
// key token, value) as a tooltip at the pointer. Takes plain data: a matrix and two token lists.
#pragma once

#include "visualizers/heatmap_types.h"

#include <QStringList>
#include <QWidget>

#include <memory>

class QVulkanInstance;

namespace ll::vis {

class ColorBar;
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
  // Frames query row `row` and key column `col` (-1: no line for that one).
  void setSelection(int row, int col);
  int selectedRow() const { return m_selRow; }
  int selectedCol() const { return m_selCol; }
  HeatmapWindow* heatmapWindow() const { return m_window; }
  ColorBar* colorBar() const { return m_colorBar; }
  // The readout shown at the pointer for a cell (rich text, token labels escaped).
  QString hoverReadout(int row, int col, float value) const;
  QWidget* container() const { return m_container; }
  // The labels shown now (empty when the view shows nothing).
  const QStringList& queryTokens() const { return m_queries; }
  const QStringList& keyTokens() const { return m_keys; }

 signals:
  void hovered(const QString& queryToken, const QString& keyToken, float value, int row, int col);
  void cellClicked(int row, int col);

 private:
  void syncAxes();
  void syncColorBar();
  void showReadout(int row, int col, float value);

  HeatmapWindow* m_window = nullptr;
  QWidget* m_container = nullptr;
  TokenAxis* m_top = nullptr;
  TokenAxis* m_left = nullptr;
  ColorBar* m_colorBar = nullptr;
  std::shared_ptr<const HeatmapMatrix> m_matrix;
  HeatmapStyle m_style;
  ResolvedRange m_range;  // of m_matrix under m_style (what the renderer resolves)
  int m_selRow = -1;
  int m_selCol = -1;
  QStringList m_queries;
  QStringList m_keys;
};

}  // namespace ll::vis
