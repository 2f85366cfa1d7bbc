// Expert contrast figure and data export (the JSON is rt::ana::expertContrastJson, as the CLI
// writes it).
#include "ui/export_contrast.h"

#include "ui/analysis_labels.h"

#include "runtime/api/npy_io.h"

#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

namespace ll::ui {

namespace {
const rt::ana::ExpertContrastResult& resultOf(const Snapshot& s) {
  if (!s.contrast) throw std::invalid_argument("no contrast data in the current view");
  return *s.contrast;
}
}  // namespace

void writeContrastData(const Snapshot& s, const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "json") {
    const std::string text = rt::ana::expertContrastJson(resultOf(s)).dump(1) + "\n";
    std::ofstream f(path.toStdString());
    if (!(f << text)) throw std::runtime_error("cannot write the file");
    return;
  }
  if (suffix != "npy") throw std::invalid_argument("use .json or .npy for contrast");
  const rt::ana::ExpertContrastResult& r = resultOf(s);
  rt::writeNpy(path.toStdString(), r.delta.data(), {r.nLayer, r.nExpert});
}

}  // namespace ll::ui
