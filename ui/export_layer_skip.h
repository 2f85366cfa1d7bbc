// Export of the Layer skip panel's result: a figure (KL per skipped layer at the selected token
// and over the prompt, top-1 changes marked) and its data (.json = `layerlens-cli skip`'s document,
// .npy = the figure's [2, nLayer] matrix).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// Throws std::invalid_argument when the snapshot has no layer-skip result.
vis::FigureSpec layerSkipFigure(const Snapshot& s, const QString& caption);
// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeLayerSkipData(const Snapshot& s, const QString& path, const QString& caption);

}  // namespace ll::ui
