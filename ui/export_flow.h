// Data export of the Flow routes panel's result: a figure (route flow per node, levels x the token
// window ending at the selected token) and its data (.json = `layerlens-cli flow`'s document with
// the routes to the selected token, .npy = the figure's matrix).
// The figure is built by visualizers/figure/analysis_figures (shared with the CLI's --figure).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeFlowData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
