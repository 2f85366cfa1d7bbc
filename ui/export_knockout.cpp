// Knockout effect figure and data export.
#include "ui/export_knockout.h"

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
QString layerText(int begin, int end) {
  return end - begin == 1 ? QString::number(begin)
                          : QString::number(begin) + "-" + QString::number(end - 1);
}
}  // namespace

vis::FigureSpec knockoutFigure(const Snapshot& s, const QString& caption) {
  const rt::ana::KnockoutReadout& r = readoutOf(s);
  const rt::ana::KnockoutResult& e = r.effect;
  vis::FigureSpec f;
  f.matrix.rows = 1;
  if (r.sweep.empty()) {
    f.matrix.cols = 1;
    f.matrix.values = {static_cast<float>(e.relativeChange)};
    f.colLabels << "layers " + layerText(e.layerBegin, e.layerEnd);
    f.xTitle = "knocked-out layers";
  } else {
    f.matrix.cols = static_cast<int>(r.sweep.size());
    for (double v : r.sweep) f.matrix.values.push_back(static_cast<float>(v));
    for (size_t l = 0; l < r.sweep.size(); ++l) f.colLabels << QString::number(l);
    f.xTitle = "window centre layer (window " + QString::number(r.window) + ")";
  }
  float m = 1e-6f;
  for (float v : f.matrix.values) m = std::max(m, std::fabs(v));
  f.style.colormap = vis::Colormap::Diverging;
  f.style.lo = -m;  // 0 (no effect) is the colormap's centre
  f.style.hi = m;
  for (float v : f.matrix.values) f.cellText << QString::number(v, 'f', 1) + "%";
  f.rowLabels << "p(" + s.knockoutAnswerText + ")";
  f.title = "Attention knockout · 100·(p_new − p_base)/p_base of \"" + s.knockoutAnswerText +
            "\" · p_base " + QString::number(e.pBase, 'g', 3);
  f.colorbarTitle = "relative change (%)";
  f.caption = caption;
  return f;
}

void writeKnockoutData(const Snapshot& s, const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "json") {
    const std::string text = rt::ana::knockoutReadoutJson(readoutOf(s)).dump(1) + "\n";
    std::ofstream f(path.toStdString());
    if (!(f << text)) throw std::runtime_error("cannot write the file");
    return;
  }
  if (suffix != "npy") throw std::invalid_argument("use .json or .npy for knockout");
  const vis::FigureSpec f = knockoutFigure(s, QString());
  rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
}

}  // namespace ll::ui
