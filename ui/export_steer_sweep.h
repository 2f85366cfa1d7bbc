// Data export of the Steering readouts panel's result: two figures (the alpha sweep: KL and entropy
// per alpha with the top-1 token in each cell; the layer sweep: the same per steered layer) and
// their data (.json = `layerlens-cli steer-sweep`'s document, .npy = the figure's matrix). The
// figure is built by visualizers/figure/analysis_figures (shared with the CLI's --figure).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeSteerSweepData(const Snapshot& s, const QString& view, const QString& path);

}  // namespace ll::ui
