// Latent-language data export (the JSON is rt::ana::latentLanguageJson, as the CLI writes it).
#include "ui/export_latent.h"

#include <QFileInfo>
#include <fstream>
#include <stdexcept>

#include "runtime/api/npy_io.h"

namespace ll::ui {

void writeLatentData(const Snapshot& s, const QString& path) {
  if (!s.latent) throw std::invalid_argument("no latent data in the current view");
  const rt::ana::LatentLanguageResult& r = *s.latent;
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "json") {
    const std::string text = rt::ana::latentLanguageJson(r).dump(1) + "\n";
    std::ofstream f(path.toStdString());
    if (!(f << text)) throw std::runtime_error("cannot write the file");
    return;
  }
  if (suffix != "npy") throw std::invalid_argument("use .json or .npy for latent");
  std::vector<float> m(r.a.begin(), r.a.end());
  m.insert(m.end(), r.b.begin(), r.b.end());
  rt::writeNpy(path.toStdString(), m.data(), {2, int64_t(r.a.size())});
}

}  // namespace ll::ui
