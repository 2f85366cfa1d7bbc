// Routing view: a router-score heatmap (layer x expert for one token, or token x expert for one
// layer) through AttentionMapView, with a per-expert bar strip of the hovered / clicked row.
#pragma once

#include "visualizers/routing.h"

#include <QStringList>
#include <QWidget>

#include <vector>

class QComboBox;
class QCustomPlot;
class QVulkanInstance;

namespace ll::vis {

class AttentionMapView;

class RoutingView : public QWidget {
  Q_OBJECT
 public:
  enum class Mode { LayerByExpert, TokenByExpert };
  explicit RoutingView(QVulkanInstance* instance, QWidget* parent = nullptr);

  // scores: [layer][token][expert]; the view keeps its own copy.
  void setScores(std::vector<float> scores, int nLayer, int nTokens, int nExpert,
                 const QStringList& tokens);
  void showMatrix(Mode mode, int index);  // token index (LayerByExpert) or layer (TokenByExpert)
  Mode mode() const { return m_mode; }
  AttentionMapView* map() const { return m_map; }
  QCustomPlot* strip() const { return m_strip; }
  void showRowInStrip(int row);
  // Shows nothing (no scores, no labels, an empty strip): a dense model.
  void clear();
  // The scores shown ([layer][token][expert]; empty after clear()).
  RoutingScores scores() const;
  // What the heatmap shows now (empty before any scores) and its row labels (tokens or layers).
  const HeatmapMatrix& shownMatrix() const { return m_shown; }
  const QStringList& rowLabels() const { return m_rows; }

 signals:
  void cellSelected(int row, int expert);

 private:
  AttentionMapView* m_map = nullptr;
  QCustomPlot* m_strip = nullptr;
  std::vector<float> m_scores;
  int m_nLayer = 0, m_nTokens = 0, m_nExpert = 0;
  QStringList m_tokens;
  Mode m_mode = Mode::TokenByExpert;
  int m_index = 0;
  HeatmapMatrix m_shown;
  QStringList m_rows;
};

}  // namespace ll::vis
