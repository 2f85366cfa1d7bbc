// Data export of the Knockout effect panel's readout: a figure (the relative change of the answer's
// probability per sweep window, or the single effect without the sweep) and its data (.json =
// rt::ana::knockoutReadoutJson, .npy = the figure's [1, n] row).
// The figure is built by visualizers/figure/analysis_figures (shared with the CLI's --figure).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeKnockoutData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
