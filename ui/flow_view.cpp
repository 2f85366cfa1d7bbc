// The Flow routes graph view: QPainter drawing of a FlowGraph's window of tokens, with hover and
// click (computed data only; the graph comes from the worker).
#include "ui/flow_view.h"

#include "ui/theme.h"

#include <QFontMetricsF>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace ll::ui {

namespace {

constexpr double kMinColumn = 26.0;  // px per token column: fewer tokens shown when narrower
constexpr double kLeft = 34.0, kBottom = 18.0, kTop = 6.0, kRight = 6.0;
constexpr double kHit = 5.0;  // px: how near the pointer must be to an edge or node

double segmentDistance(QPointF p, QPointF a, QPointF b) {
  const QPointF ab = b - a;
  const double len2 = QPointF::dotProduct(ab, ab);
  const double t = len2 > 0 ? std::clamp(QPointF::dotProduct(p - a, ab) / len2, 0.0, 1.0) : 0.0;
  const QPointF q = a + t * ab - p;
  return std::sqrt(QPointF::dotProduct(q, q));
}

QString levelName(int level, int nLayer) {
  if (level == 2 * nLayer) return QObject::tr("output of layer %1").arg(nLayer - 1);
  return level % 2 ? QObject::tr("layer %1 after attention").arg(level / 2)
                   : QObject::tr("layer %1 input").arg(level / 2);
}

}  // namespace

FlowView::FlowView(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void FlowView::setGraph(std::shared_ptr<const rt::ana::FlowGraph> graph, rt::ana::FlowRoutes routes,
                        QStringList tokens) {
  m_graph = std::move(graph);
  m_routes = std::move(routes);
  m_tokens = std::move(tokens);
  update();
}

void FlowView::clear() {
  m_graph.reset();
  m_routes = {};
  m_tokens.clear();
  update();
}

void FlowView::setSelectedNode(int layer, int token) {
  m_selLayer = layer;
  m_selToken = token;
  update();
}

QRectF FlowView::plotRect() const {
  return QRectF(kLeft, kTop, std::max(1.0, width() - kLeft - kRight),
                std::max(1.0, height() - kTop - kBottom));
}

int FlowView::firstToken() const {
  if (!m_graph) return 0;
  const int cols = std::max(2, int(plotRect().width() / kMinColumn));
  return std::max(0, lastToken() - cols + 1);
}

QPointF FlowView::nodePos(int level, int token) const {
  const QRectF r = plotRect();
  const int n = lastToken() - firstToken() + 1;
  const int levels = m_graph ? m_graph->nLevels() : 1;
  const double x = r.left() + (token - firstToken() + 0.5) * r.width() / std::max(1, n);
  const double y = r.bottom() - (level + 0.5) * r.height() / std::max(1, levels);
  return {x, y};
}

QString FlowView::tokenText(int t) const {
  const QString s = t >= 0 && t < m_tokens.size() ? m_tokens[t] : QString();
  return QStringLiteral("#%1 \"%2\"").arg(t).arg(s);
}

QString FlowView::nodeText(int level, int token) const {
  if (!m_graph) return {};
  const double f = m_routes.nodeFlow[size_t(m_graph->nodeId(level, token))];
  return tr("%1, token %2\nroute flow to #%3: %4")
      .arg(levelName(level, m_graph->nLayer), tokenText(token))
      .arg(m_routes.position)
      .arg(f, 0, 'g', 3);
}

QString FlowView::edgeText(size_t k) const {
  if (!m_graph || k >= m_graph->edges.size()) return {};
  const rt::ana::FlowEdge& e = m_graph->edges[k];
  using K = rt::ana::FlowEdgeKind;
  const QString what = e.kind == K::Attn        ? tr("attention")
                       : e.kind == K::AttnResid ? tr("residual past attention")
                       : e.kind == K::Mlp       ? tr("MLP")
                                                : tr("residual past the MLP");
  QString t = tr("layer %1 %2: %3 → %4\nweight %5")
                  .arg(e.layer)
                  .arg(what, tokenText(e.src), tokenText(e.dst))
                  .arg(e.weight, 0, 'g', 3);
  if (m_routes.edgeFlow.size() == m_graph->edges.size() && m_routes.edgeFlow[k] > 0)
    t += tr(", route flow %1").arg(m_routes.edgeFlow[k], 0, 'g', 3);
  return t;
}

int FlowView::edgeAt(QPointF p) const {
  if (!m_graph) return -1;
  const int first = firstToken(), last = lastToken();
  double best = kHit;
  int found = -1;
  for (size_t k = 0; k < m_graph->edges.size(); ++k) {
    const rt::ana::FlowEdge& e = m_graph->edges[k];
    if (e.dst < first || e.dst > last || e.src < first) continue;
    const double dist =
        segmentDistance(p, nodePos(e.srcLevel(), e.src), nodePos(e.dstLevel(), e.dst));
    if (dist < best) best = dist, found = int(k);
  }
  return found;
}

bool FlowView::nodeAt(QPointF p, int* level, int* token) const {
  if (!m_graph) return false;
  for (int lv = 0; lv < m_graph->nLevels(); ++lv)
    for (int t = firstToken(); t <= lastToken(); ++t) {
      const QPointF d = nodePos(lv, t) - p;
      if (std::hypot(d.x(), d.y()) <= kHit) {
        *level = lv;
        *token = t;
        return true;
      }
    }
  return false;
}

void FlowView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  const ThemeColors& c = themeColors(currentTheme());
  p.fillRect(rect(), c.plotBackground);
  if (!m_graph) return;
  const rt::ana::FlowGraph& g = *m_graph;
  const int first = firstToken(), last = lastToken();
  const QColor route = c.series[0], plain = c.text;
  // Layer labels at each layer's input level; token indices below.
  p.setPen(c.text);
  QFont small = font();
  small.setPointSizeF(std::max(6.0, small.pointSizeF() - 2));
  p.setFont(small);
  const double rowH = plotRect().height() / g.nLevels();
  const int labelStep = std::max(1, int(std::ceil(14.0 / std::max(1.0, 2 * rowH))));
  for (int l = 0; l < g.nLayer; l += labelStep)
    p.drawText(QRectF(0, nodePos(2 * l, first).y() - 8, kLeft - 4, 16),
               Qt::AlignRight | Qt::AlignVCenter, QStringLiteral("L%1").arg(l));
  // Token text under each column, elided to the column (the index when it would not fit).
  const double colW = plotRect().width() / std::max(1, last - first + 1);
  const QFontMetricsF fm(small);
  for (int t = first; t <= last; ++t) {
    const QString text = t < m_tokens.size() ? m_tokens[t] : QString();
    const QString shown = fm.horizontalAdvance(text) <= colW - 2
                              ? text
                              : fm.elidedText(text, Qt::ElideRight, colW - 2);
    p.drawText(QRectF(nodePos(0, t).x() - colW / 2, height() - kBottom, colW, kBottom),
               Qt::AlignCenter, shown.size() > 1 || shown == text ? shown : QString::number(t));
  }
  // Edges: everything faint first, the routes on top.
  const bool haveRoutes = m_routes.edgeFlow.size() == g.edges.size();
  for (int pass = 0; pass < 2; ++pass)
    for (size_t k = 0; k < g.edges.size(); ++k) {
      const rt::ana::FlowEdge& e = g.edges[k];
      if (e.dst < first || e.dst > last || e.src < first) continue;
      const double f = haveRoutes ? m_routes.edgeFlow[k] : 0.0;
      if ((pass == 1) != (f > 0)) continue;
      QColor col = pass ? route : plain;
      const double w = pass ? f : e.weight;
      col.setAlphaF(pass ? 0.35 + 0.65 * std::min(1.0, w) : 0.06 + 0.3 * w);
      p.setPen(QPen(col, 0.6 + 3.0 * w, Qt::SolidLine, Qt::RoundCap));
      p.drawLine(nodePos(e.srcLevel(), e.src), nodePos(e.dstLevel(), e.dst));
    }
  // Nodes: route nodes sized by their flow.
  p.setPen(Qt::NoPen);
  for (int lv = 0; lv < g.nLevels(); ++lv)
    for (int t = first; t <= last; ++t) {
      const double f = m_routes.nodeFlow.empty() ? 0.0 : m_routes.nodeFlow[size_t(g.nodeId(lv, t))];
      QColor col = f > 0 ? route : plain;
      col.setAlphaF(f > 0 ? 1.0 : 0.45);
      p.setBrush(col);
      const double r = f > 0 ? 2.0 + 3.0 * std::sqrt(std::min(1.0, f)) : 1.6;
      p.drawEllipse(nodePos(lv, t), r, r);
    }
  if (m_selToken >= first && m_selToken <= last && m_selLayer >= 0 && m_selLayer < g.nLayer) {
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(c.marker, 1.5));
    p.drawEllipse(nodePos(2 * m_selLayer + 2, m_selToken), 6.0, 6.0);  // the layer's output
  }
}

void FlowView::mouseMoveEvent(QMouseEvent* e) {
  int level = 0, token = 0;
  QString text;
  if (nodeAt(e->position(), &level, &token))
    text = nodeText(level, token);
  else if (const int k = edgeAt(e->position()); k >= 0)
    text = edgeText(size_t(k));
  if (text.isEmpty())
    QToolTip::hideText();
  else
    QToolTip::showText(e->globalPosition().toPoint(), text, this);
}

void FlowView::mousePressEvent(QMouseEvent* e) {
  int level = 0, token = 0;
  if (e->button() == Qt::LeftButton && nodeAt(e->position(), &level, &token))
    emit nodeClicked(level, token);
}

}  // namespace ll::ui
