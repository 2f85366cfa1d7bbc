// Flow routes figure and data export (the JSON is rt::ana::flowJson, as the CLI writes it).
#include "ui/export_flow.h"

#include "runtime/api/npy_io.h"

#include <QFileInfo>

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace ll::ui {

namespace {
const rt::ana::FlowGraph& graphOf(const Snapshot& s) {
  if (!s.flow) throw std::invalid_argument("no flow data in the current view");
  return *s.flow;
}
QString levelLabel(int level, int nLayer) {
  if (level == 2 * nLayer) return QStringLiteral("out");
  return (level % 2 ? QStringLiteral("L%1 mid") : QStringLiteral("L%1 in")).arg(level / 2);
}
}  // namespace

vis::FigureSpec flowFigure(const Snapshot& s, const QString& caption) {
  const rt::ana::FlowGraph& g = graphOf(s);
  const rt::ana::FlowRoutes r = rt::ana::flowRoutes(g, s.token);
  const int last = r.position, first = std::max(0, last - kFlowFigureTokens + 1);
  const int cols = last - first + 1, rows = g.nLevels();
  vis::FigureSpec f;
  f.matrix.rows = rows;
  f.matrix.cols = cols;
  // Top row = the output, as in the panel.
  for (int lv = rows - 1; lv >= 0; --lv) {
    f.rowLabels << levelLabel(lv, g.nLayer);
    for (int t = first; t <= last; ++t)
      f.matrix.values.push_back(static_cast<float>(r.nodeFlow[size_t(g.nodeId(lv, t))]));
  }
  f.style.lo = 0.0f;
  f.style.hi = 1.0f;
  for (int t = first; t <= last; ++t)
    f.colLabels << (t < s.tokens.size() ? s.tokens[t] : QString::number(t));
  const QString tok = last < s.tokens.size() ? s.tokens[last] : QString();
  f.title = "Information-flow routes to #" + QString::number(last) + " " + tok +
            " · τ = " + QString::number(g.threshold);
  f.xTitle = "token";
  f.yTitle = "residual stream (layer input, after attention)";
  f.colorbarTitle = "route flow";
  f.caption = caption;
  return f;
}

void writeFlowData(const Snapshot& s, const QString& path, const QString& caption) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "json") {
    const rt::ana::FlowGraph& g = graphOf(s);
    const std::vector<int32_t> ids = s.trace ? s.trace->ids : std::vector<int32_t>{};
    const std::string text = rt::ana::flowJson(g, rt::ana::flowRoutes(g, s.token), ids).dump(1);
    std::ofstream f(path.toStdString());
    if (!(f << text << "\n")) throw std::runtime_error("cannot write the file");
    return;
  }
  if (suffix != "npy") throw std::invalid_argument("use .json or .npy for flow");
  const vis::FigureSpec f = flowFigure(s, caption);
  rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
}

}  // namespace ll::ui
