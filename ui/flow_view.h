// The Flow routes graph view: tokens across, residual-stream levels up (layer inputs, after
// attention, the output), nodes as dots and edges drawn with width and opacity by weight; the
// routes to the output token are drawn over the rest in the accent colour. A window of the tokens
// up to the output token keeps long prompts legible; hover names an edge or node, click picks one.
#pragma once

#include "runtime/analysis/flow_routes.h"

#include <QStringList>
#include <QWidget>

#include <memory>

namespace ll::ui {

class FlowView : public QWidget {
  Q_OBJECT
 public:
  explicit FlowView(QWidget* parent = nullptr);

  // routes: to routes.position, the last column of the window; tokens: display text per token.
  void setGraph(std::shared_ptr<const rt::ana::FlowGraph> graph, rt::ana::FlowRoutes routes,
                QStringList tokens);
  void clear();
  void setSelectedNode(int layer, int token);  // ringed (the shared selection)

  const rt::ana::FlowGraph* graph() const { return m_graph.get(); }
  const rt::ana::FlowRoutes& routes() const { return m_routes; }
  // The tokens shown: [firstToken(), lastToken()].
  int firstToken() const;
  int lastToken() const { return m_routes.position; }
  // Widget position of a node and the text its tooltip (or an edge's) shows.
  QPointF nodePos(int level, int token) const;
  QString nodeText(int level, int token) const;
  QString edgeText(size_t edge) const;
  // What lies under a point: an edge index or a node (level, token); -1 when nothing.
  int edgeAt(QPointF p) const;
  bool nodeAt(QPointF p, int* level, int* token) const;

  QSize minimumSizeHint() const override { return {120, 120}; }
  QSize sizeHint() const override { return {320, 420}; }

 signals:
  void nodeClicked(int level, int token);

 protected:
  void paintEvent(QPaintEvent*) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;

 private:
  QRectF plotRect() const;
  QString tokenText(int t) const;

  std::shared_ptr<const rt::ana::FlowGraph> m_graph;
  rt::ana::FlowRoutes m_routes;
  QStringList m_tokens;
  int m_selLayer = -1, m_selToken = -1;
};

}  // namespace ll::ui
