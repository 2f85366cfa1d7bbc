#include "ui/attribution_export.h"

#include "runtime/analysis/attribution.h"
#include "runtime/api/npy_io.h"

#include <QFile>
#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ll::ui {

void attributionFigure(const Snapshot& s, vis::FigureSpec& f) {
  const rt::ana::Attribution& a = *s.attribution;
  f.matrix.rows = a.nLayer;
  f.matrix.cols = a.nHead + 2;
  for (int l = 0; l < a.nLayer; ++l) {
    for (int h = 0; h < a.nHead; ++h) f.matrix.values.push_back(float(a.head(l, h)));
    f.matrix.values.push_back(float(a.attn[size_t(l)]));
    f.matrix.values.push_back(float(a.mlp[size_t(l)]));
    f.rowLabels << "layer " + QString::number(l);
  }
  float m = 1e-9f;  // symmetric around 0: white is no contribution
  for (float v : f.matrix.values) m = std::max(m, std::fabs(v));
  for (int h = 0; h < a.nHead; ++h) f.colLabels << "head " + QString::number(h);
  f.colLabels << "attention"
              << "MLP";
  f.style.colormap = vis::Colormap::Diverging;
  f.style.lo = -m;
  f.style.hi = m;
  QString what = "logit(\"" + s.attributionTargetText + "\")";
  if (a.other >= 0) what += " − logit(\"" + s.attributionOtherText + "\")";
  f.title = "Direct logit attribution · " + what + " at token " + QString::number(a.position);
  f.xTitle = "head, then the layer's attention and MLP outputs";
  f.yTitle = "layer";
  f.colorbarTitle = "logit contribution";
}

QString attributionCaption(const rt::ana::Attribution& a) {
  return "direct logit attribution (final norm scale frozen" +
         QString(a.softcapped ? ", before the logit soft-cap" : "") + ") · sum " +
         QString::number(a.total(), 'g', 5) + " = logit " + QString::number(a.logit, 'g', 5) +
         " · embedding " + QString::number(a.embed, 'g', 3) + " · constant " +
         QString::number(a.bias, 'g', 3);
}

void writeAttributionData(const rt::ana::Attribution& a, const QString& path) {
  if (QFileInfo(path).suffix().toLower() == "npy") {
    const std::vector<float> heads(a.heads.begin(), a.heads.end());
    rt::writeNpy(path.toStdString(), heads.data(), {a.nLayer, a.nHead});
    return;
  }
  // The same document as `layerlens-cli attribute --out`.
  QFile f(path);
  const std::string doc = rt::ana::attributionJson(a) + "\n";
  if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) ||
      f.write(doc.data(), qint64(doc.size())) != qint64(doc.size()))
    throw std::runtime_error("cannot write the file");
}

}  // namespace ll::ui
