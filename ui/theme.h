// Light and dark themes (View menu): the Fusion style with a matching palette, applied to the
// whole application and remembered in QSettings.
#pragma once

#include <QString>

namespace ll::ui {

enum class Theme { Light, Dark };

void applyTheme(Theme theme);
Theme savedTheme();
void saveTheme(Theme theme);

}  // namespace ll::ui
