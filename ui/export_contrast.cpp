// Expert contrast figure and data export (the JSON is rt::ana::expertContrastJson, as the CLI
// writes it).
#include "ui/export_contrast.h"

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

vis::FigureSpec contrastFigure(const Snapshot& s, const QString& caption) {
  const rt::ana::ExpertContrastResult& r = resultOf(s);
  const int L = r.nLayer, E = r.nExpert;
  vis::FigureSpec f;
  f.matrix.rows = L;
  f.matrix.cols = E;
  f.matrix.values = r.delta;
  float m = 1e-6f;
  for (float v : r.delta) m = std::max(m, std::fabs(v));
  f.style.colormap = vis::Colormap::Diverging;
  f.style.lo = -m;  // symmetric: Δ = 0 is the colormap's centre
  f.style.hi = m;
  for (int l = 0; l < L; ++l)
    for (int e = 0; e < E; ++e) {
      const bool picked =
          std::find(r.picked.begin(), r.picked.end(), std::make_pair(l, e)) != r.picked.end();
      f.cellText << QString::number(r.at(l, e), 'f', 2) + (picked ? QStringLiteral(" ■") : "");
    }
  for (int l = 0; l < L; ++l) f.rowLabels << "layer " + QString::number(l);
  for (int e = 0; e < E; ++e) f.colLabels << QString::number(e);
  f.title = "Expert contrast · routing frequency, " + QString::number(r.nTask) + " task − " +
            QString::number(r.nNeutral) + " neutral prompts (■ Δ > " +
            QString::number(r.request.tau) + ")";
  f.xTitle = "expert";
  f.yTitle = "layer";
  f.colorbarTitle = "Δ frequency";
  f.caption = caption;
  return f;
}

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
