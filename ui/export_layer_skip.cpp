// Layer skip figure and data export (the JSON is rt::ana::layerSkipJson, as the CLI writes it).
#include "ui/export_layer_skip.h"

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
QString partText(rt::SkipPart p) {
  return p == rt::SkipPart::Attention ? QStringLiteral("attention only")
         : p == rt::SkipPart::Mlp     ? QStringLiteral("MLP only")
                                      : QStringLiteral("whole layer");
}
}  // namespace

vis::FigureSpec layerSkipFigure(const Snapshot& s, const QString& caption) {
  const rt::ana::LayerSkipResult& r = resultOf(s);
  const int L = r.nLayer;
  vis::FigureSpec f;
  f.matrix.rows = 2;
  f.matrix.cols = L;
  for (double v : r.kl) f.matrix.values.push_back(static_cast<float>(v));
  for (double v : r.klMean) f.matrix.values.push_back(static_cast<float>(v));
  f.style.lo = 0.0f;
  for (int row = 0; row < 2; ++row)
    for (int l = 0; l < L; ++l) {
      QString t = QString::number(f.matrix.values[size_t(row) * L + l], 'g', 3);
      if (row == 0 && r.top1Changed[l]) t += QStringLiteral(" ▼");
      f.cellText << t;
    }
  const QString tok = r.position < s.tokens.size() ? s.tokens[r.position] : QString();
  f.rowLabels << "at #" + QString::number(r.position) + " " + tok << "prompt mean";
  for (int l = 0; l < L; ++l) f.colLabels << QString::number(l);
  f.title = "Layer skip · " + partText(r.part) + " · KL(p || p_skip) (▼ top-1 changed)";
  f.xTitle = "layer skipped";
  f.colorbarTitle = "KL (nats)";
  f.caption = caption;
  return f;
}

void writeLayerSkipData(const Snapshot& s, const QString& path, const QString& caption) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "json") {
    const std::string text = rt::ana::layerSkipJson(resultOf(s)).dump(1) + "\n";
    std::ofstream f(path.toStdString());
    if (!(f << text)) throw std::runtime_error("cannot write the file");
    return;
  }
  if (suffix != "npy") throw std::invalid_argument("use .json or .npy for layerskip");
  const vis::FigureSpec f = layerSkipFigure(s, caption);
  rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
}

}  // namespace ll::ui
