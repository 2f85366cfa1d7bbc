// Data export of the Layer skip panel's result: a figure (KL per skipped layer at the selected
// token and over the prompt, top-1 changes marked) and its data (.json = `layerlens-cli skip`'s
// document, .npy = the figure's [2, nLayer] matrix). The figure is built by
// visualizers/figure/analysis_figures (shared with the CLI's --figure).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeLayerSkipData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
