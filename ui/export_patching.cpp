// Patching figure and data export (the .npy is the CLI's --out array).
#include "ui/export_patching.h"

#include "runtime/api/npy_io.h"

#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ll::ui {

namespace ana = rt::ana;

namespace {
const ana::PatchingResult& resultOf(const Snapshot& s) {
  if (!s.patching) throw std::invalid_argument("no patching data in the current view");
  return *s.patching;
}
QString metricText(const Snapshot& s, const ana::PatchingResult& r) {
  if (r.request.metric == ana::PatchMetric::Prob) return "p(\"" + s.patchingTargetText + "\")";
  return "logit(\"" + s.patchingTargetText + "\") − logit(\"" + s.patchingOtherText + "\")";
}
}  // namespace

vis::FigureSpec patchingFigure(const Snapshot& s, const QString& caption) {
  const ana::PatchingResult& r = resultOf(s);
  vis::FigureSpec f;
  f.matrix.rows = r.nLayer;
  f.matrix.cols = r.nTokens;
  f.matrix.values = r.effect;
  float m = 1e-6f;  // symmetric around 0: white is no effect
  for (float v : r.effect)
    if (std::isfinite(v)) m = std::max(m, std::fabs(v));
  f.style.colormap = vis::Colormap::Diverging;
  f.style.lo = -m;
  f.style.hi = m;
  for (int l = 0; l < r.nLayer; ++l) f.rowLabels << "layer " + QString::number(l);
  for (int t = 0; t < r.nTokens; ++t) f.colLabels << (t < s.tokens.size() ? s.tokens[t] : "?");
  f.title = "Activation patching · " +
            QString::fromStdString(ana::patchComponentName(r.request.component)) + " · " +
            QString::fromStdString(ana::patchDirectionName(r.request.direction)) + " · " +
            metricText(s, r);
  f.xTitle = "token position";
  f.yTitle = "layer";
  f.colorbarTitle = "normalised effect";
  f.caption = caption;
  return f;
}

QString patchingCaption(const Snapshot& s) {
  if (!s.patching) return QString();
  const ana::PatchingResult& r = *s.patching;
  const PatchingSettings& p = s.state.patching;
  const QString corruption = p.noise
                                 ? "noise on tokens " + QString::number(p.noiseBegin) + "-" +
                                       QString::number(p.noiseEnd - 1)
                                 : "corrupted prompt \"" + QString::fromStdString(p.corrupt) + "\"";
  return "activation patching (" + corruption + ") · " + metricText(s, r) + ": clean " +
         QString::number(r.metricClean, 'g', 4) + ", corrupted " +
         QString::number(r.metricCorrupt, 'g', 4) + " · effect (m − m_r)/(m_c − m_r)";
}

void writePatchingData(const Snapshot& s, const QString& path) {
  if (QFileInfo(path).suffix().toLower() != "npy")
    throw std::invalid_argument("use .npy for patching");
  const ana::PatchingResult& r = resultOf(s);
  rt::writeNpy(path.toStdString(), r.effect.data(), {r.nLayer, r.nTokens});
}

}  // namespace ll::ui
