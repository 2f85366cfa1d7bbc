// Export of the Flow routes panel's result: a figure (route flow per node, levels x the token
// window ending at the selected token) and its data (.json = `layerlens-cli flow`'s document with
// the routes to the selected token, .npy = the figure's matrix).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// At most this many tokens (the last ones up to the selected token) in the figure.
inline constexpr int kFlowFigureTokens = 48;

// Throws std::invalid_argument when the snapshot has no flow graph.
vis::FigureSpec flowFigure(const Snapshot& s, const QString& caption);
// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeFlowData(const Snapshot& s, const QString& path, const QString& caption);

}  // namespace ll::ui
