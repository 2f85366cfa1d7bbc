// Data export of the Patching panel's result: a figure (the layer x token map of the normalised
// effect) and its data (.npy [n_layer, T], what `layerlens-cli patch --out` writes). The figure is
// built by visualizers/figure/analysis_figures (shared with the CLI's --figure).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// How the corrupted run was made, for the caption: the corrupted prompt or the noised span.
QString patchingCorruption(const Snapshot& s);
// .npy only; throws std::invalid_argument / std::runtime_error.
void writePatchingData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
