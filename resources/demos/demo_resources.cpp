// Registration of the "demos" Qt resource and small helpers to read it.
#include "resources/demos/demo_resources.h"

#include <QDir>
#include <QFile>

static void llInitDemosResource() {
  Q_INIT_RESOURCE(demos);
}

namespace ll::demos {

void initDemoResources() {
  static const bool once = [] {
    llInitDemosResource();
    return true;
  }();
  (void)once;
}

QStringList embeddedPresetFiles() {
  initDemoResources();
  QStringList out;
  for (const QString& f : QDir(":/demos").entryList({"*.json"}, QDir::Files, QDir::Name))
    out << ":/demos/" + f;
  return out;
}

QString embeddedText(const QString& fileName) {
  initDemoResources();
  QFile f(fileName.startsWith(":/") ? fileName : ":/demos/" + fileName);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return QString::fromUtf8(f.readAll());
}

}  // namespace ll::demos
