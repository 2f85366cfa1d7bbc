// Steering readouts figure and data export (the JSON is rt::ana::steeringSweepJson, as the CLI
// writes it).
#include "ui/export_steer_sweep.h"

#include "ui/analysis_labels.h"

#include "runtime/api/npy_io.h"

#include <QFileInfo>

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace ll::ui {

namespace {

const rt::ana::SteeringSweepResult& resultOf(const Snapshot& s, const QString& view) {
  if (!s.steerSweep)
    throw std::invalid_argument("no " + view.toStdString() + " data in the current view");
  return *s.steerSweep;
}

}  // namespace

void writeSteerSweepData(const Snapshot& s, const QString& view, const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "json") {
    const std::string text = rt::ana::steeringSweepJson(resultOf(s, view)).dump(1) + "\n";
    std::ofstream f(path.toStdString());
    if (!(f << text)) throw std::runtime_error("cannot write the file");
    return;
  }
  if (suffix != "npy") throw std::invalid_argument("use .json or .npy for " + view.toStdString());
  const vis::FigureSpec f =
      vis::steerSweepFigure(resultOf(s, view), view == "steerlayer", analysisLabels(s, view));
  rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
}

}  // namespace ll::ui
