// Patching figure and data export (the .npy is the CLI's --out array).
#include "ui/export_patching.h"

#include "ui/analysis_labels.h"

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
}  // namespace

QString patchingCorruption(const Snapshot& s) {
  const PatchingSettings& p = s.state.patching;
  return p.noise ? "noise on tokens " + QString::number(p.noiseBegin) + "-" +
                       QString::number(p.noiseEnd - 1)
                 : "corrupted prompt \"" + QString::fromStdString(p.corrupt) + "\"";
}

void writePatchingData(const Snapshot& s, const QString& path) {
  if (QFileInfo(path).suffix().toLower() != "npy")
    throw std::invalid_argument("use .npy for patching");
  const ana::PatchingResult& r = resultOf(s);
  rt::writeNpy(path.toStdString(), r.effect.data(), {r.nLayer, r.nTokens});
}

}  // namespace ll::ui
