// Knockout effect figure and data export.
#include "ui/export_knockout.h"

#include "ui/analysis_labels.h"

#include "runtime/api/npy_io.h"

#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

namespace ll::ui {

namespace {
const rt::ana::KnockoutReadout& readoutOf(const Snapshot& s) {
  if (!s.knockoutEffect) throw std::invalid_argument("no knockout data in the current view");
  return *s.knockoutEffect;
}
}  // namespace

void writeKnockoutData(const Snapshot& s, const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "json") {
    const std::string text = rt::ana::knockoutReadoutJson(readoutOf(s)).dump(1) + "\n";
    std::ofstream f(path.toStdString());
    if (!(f << text)) throw std::runtime_error("cannot write the file");
    return;
  }
  if (suffix != "npy") throw std::invalid_argument("use .json or .npy for knockout");
  const vis::FigureSpec f = vis::knockoutFigure(readoutOf(s), analysisLabels(s, "knockout"));
  rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
}

}  // namespace ll::ui
