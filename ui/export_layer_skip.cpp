// Layer skip figure and data export (the JSON is rt::ana::layerSkipJson, as the CLI writes it).
#include "ui/export_layer_skip.h"

#include "ui/analysis_labels.h"

#include "runtime/api/npy_io.h"

#include <QFileInfo>

#include <fstream>
#include <stdexcept>

namespace ll::ui {

namespace {
const rt::ana::LayerSkipResult& resultOf(const Snapshot& s) {
  if (!s.layerSkip) throw std::invalid_argument("no layerskip data in the current view");
  return *s.layerSkip;
}
}  // namespace

void writeLayerSkipData(const Snapshot& s, const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "json") {
    const std::string text = rt::ana::layerSkipJson(resultOf(s)).dump(1) + "\n";
    std::ofstream f(path.toStdString());
    if (!(f << text)) throw std::runtime_error("cannot write the file");
    return;
  }
  if (suffix != "npy") throw std::invalid_argument("use .json or .npy for layerskip");
  const vis::FigureSpec f = vis::layerSkipFigure(resultOf(s), analysisLabels(s, "layerskip"));
  rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
}

}  // namespace ll::ui
