// Flow routes figure and data export (the JSON is rt::ana::flowJson, as the CLI writes it).
#include "ui/export_flow.h"

#include "ui/analysis_labels.h"

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
}  // namespace

void writeFlowData(const Snapshot& s, const QString& path) {
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
  const vis::FigureSpec f = vis::flowFigure(graphOf(s), s.token, analysisLabels(s, "flow"));
  rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
}

}  // namespace ll::ui
