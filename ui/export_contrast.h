// Data export of the Expert contrast panel's result: a figure (Δ per layer x expert, diverging
// colormap centred on 0, the picked experts marked) and its data (.json = `layerlens-cli
// contrast`'s document, .npy = Δ [nLayer, nExpert]). The figure is built by
// visualizers/figure/analysis_figures (shared with the CLI's --figure).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeContrastData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
