// Export of the Expert contrast panel's result: a figure (Δ per layer x expert, diverging colormap
// centred on 0, the picked experts marked) and its data (.json = `layerlens-cli contrast`'s
// document, .npy = Δ [nLayer, nExpert]).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// Throws std::invalid_argument when the snapshot has no expert contrast.
vis::FigureSpec contrastFigure(const Snapshot& s, const QString& caption);
// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeContrastData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
