// Steering readouts figure and data export (the JSON is rt::ana::steeringSweepJson, as the CLI
// writes it).
#include "ui/export_steer_sweep.h"

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

// Two rows (KL, entropy) over the columns, cells "value top-1".
void fillRows(vis::FigureSpec& f, const std::vector<double>& kl, const std::vector<double>& ent,
              const QStringList& top1) {
  const int n = static_cast<int>(kl.size());
  f.matrix.rows = 2;
  f.matrix.cols = n;
  for (const auto* row : {&kl, &ent})
    for (double v : *row) f.matrix.values.push_back(static_cast<float>(v));
  for (int row = 0; row < 2; ++row)
    for (int c = 0; c < n; ++c) {
      QString t = QString::number(f.matrix.values[size_t(row) * n + c], 'g', 3);
      if (row == 0 && c < top1.size()) t += " “" + top1[c] + "”";
      f.cellText << t;
    }
  f.rowLabels << "KL(p_α || p_0)"
              << "entropy";
  f.style.lo = 0.0f;
  f.colorbarTitle = "nats";
}

}  // namespace

QString steerSweepCaption(const Snapshot& s) {
  if (!s.steerSweep) return {};
  const auto& r = *s.steerSweep;
  return "steering readouts at token " + QString::number(r.position) + " · vector at layer " +
         QString::number(r.layer) + " from #" + QString::number(r.fromPos) + " · alpha " +
         QString::number(r.alpha, 'g', 3) + " · α|v|/mean|h| " +
         QString::number(r.pushRatio[size_t(r.layer)], 'g', 3);
}

vis::FigureSpec steerSweepFigure(const Snapshot& s, const QString& view, const QString& caption) {
  const rt::ana::SteeringSweepResult& r = resultOf(s, view);
  vis::FigureSpec f;
  const QString tok = r.position < s.tokens.size() ? s.tokens[r.position] : QString();
  const QString at = " · next token after #" + QString::number(r.position) + " " + tok;
  if (view == "steeralpha") {
    fillRows(f, r.kl, r.entropy, s.steerSweepTop1);
    for (float a : r.alphas) f.colLabels << QString::number(a, 'g', 2);
    f.title = "Steering readouts · alpha sweep at layer " + QString::number(r.layer) + at;
    f.xTitle = "alpha (current " + QString::number(r.alpha, 'g', 3) + ")";
  } else if (view == "steerlayer") {
    if (r.layerKl.empty()) throw std::invalid_argument("the layer sweep was not computed");
    fillRows(f, r.layerKl, r.layerEntropy, s.steerSweepLayerTop1);
    for (int l = 0; l < r.nLayer; ++l)
      f.colLabels << QString::number(l) + (l == r.layer ? " ◆" : "");
    f.title = "Steering readouts · layer sweep at alpha " + QString::number(r.alpha, 'g', 3) + at;
    f.xTitle = "layer steered (◆ the vector's layer)";
  } else {
    throw std::invalid_argument("unknown view " + view.toStdString());
  }
  f.style.hi = std::max(1e-6f, *std::max_element(f.matrix.values.begin(), f.matrix.values.end()));
  f.caption = caption;
  return f;
}

void writeSteerSweepData(const Snapshot& s, const QString& view, const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "json") {
    const std::string text = rt::ana::steeringSweepJson(resultOf(s, view)).dump(1) + "\n";
    std::ofstream f(path.toStdString());
    if (!(f << text)) throw std::runtime_error("cannot write the file");
    return;
  }
  if (suffix != "npy") throw std::invalid_argument("use .json or .npy for " + view.toStdString());
  const vis::FigureSpec f = steerSweepFigure(s, view, QString());
  rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
}

}  // namespace ll::ui
