#include "ui/attribution_export.h"

#include "runtime/analysis/attribution.h"
#include "runtime/api/npy_io.h"

#include <QFile>
#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ll::ui {

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
