// The embedded demo presets (:/demos/*.json and their teacher texts): registration and listing.
#pragma once

#include <QString>
#include <QStringList>

namespace ll::demos {

// Makes sure :/demos/ is registered (static libraries need an explicit reference).
void initDemoResources();
// ":/demos/<id>.json" paths, sorted by name.
QStringList embeddedPresetFiles();
// Text of an embedded file (preset or teacher text); empty when missing.
QString embeddedText(const QString& fileName);

}  // namespace ll::demos
