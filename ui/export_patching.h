// Export of the Patching panel's result: a figure (the layer x token map of the normalised effect)
// and its data (.npy [n_layer, T], what `layerlens-cli patch --out` writes).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// Throws std::invalid_argument when the snapshot has no patching result.
vis::FigureSpec patchingFigure(const Snapshot& s, const QString& caption);
// What the figure shows, for its caption: component, direction, metric and the runs' values.
QString patchingCaption(const Snapshot& s);
// .npy only; throws std::invalid_argument / std::runtime_error.
void writePatchingData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
