// The CPU backend's math mode as a saved application setting (View > CPU math): "precise" or
// "fast", applied when the next model loads.
#pragma once

#include <QString>

namespace ll::ui {

// The saved mode, or "" when none was saved: loads then follow LAYERLENS_CPU_MATH (default
// precise; a bad value fails the load with the variable's error).
QString savedCpuMath();
// The mode a load with `setting` uses: the setting, else LAYERLENS_CPU_MATH's when it is valid,
// else "precise" (for the menu's check mark).
QString effectiveCpuMath(const QString& setting);
void saveCpuMath(const QString& mode);

}  // namespace ll::ui
