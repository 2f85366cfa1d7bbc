// Persistence of the CPU math mode (QSettings key "cpuMath"), beside the theme's.
#include "ui/cpu_math_setting.h"

#include <QSettings>
#include <stdexcept>

#include "kernels/backends.h"

namespace ll::ui {

namespace {
constexpr char kKey[] = "cpuMath";
}

QString savedCpuMath() {
  const QString saved = QSettings().value(QLatin1String(kKey)).toString();
  return saved == QLatin1String("fast") || saved == QLatin1String("precise") ? saved : QString();
}

QString effectiveCpuMath(const QString& setting) {
  if (!setting.isEmpty()) return setting;
  try {
    return QLatin1String(kern::cpuMathName(kern::cpuMathFromEnv()));
  } catch (const std::invalid_argument&) {
    return QStringLiteral("precise");
  }
}

void saveCpuMath(const QString& mode) {
  QSettings().setValue(QLatin1String(kKey), mode);
}

}  // namespace ll::ui
