// The Demos menu: one entry per embedded guided demo (:/demos/), each opening
// its model (the built-in demo model or a shared one), prompt and view with its
// teacher text in a side panel; and, when the app starts without a model, the
// built-in demo model instead of an empty window.
#pragma once

#include <QString>

namespace ll::ui {

class MainWindow;

// Adds the Demos menu. openDemoNow: start the first demo at once (the app was started without a
// model), with its prompt unless keepPrompt (the user gave one on the command line).
void installDemoMenu(MainWindow* window, bool openDemoNow, bool keepPrompt = false);

// Where the built-in demo model is written (the user's cache folder).
QString demoModelCacheDir();

}  // namespace ll::ui
