// Export of the Knockout effect panel's readout: a figure (the relative change of the answer's
// probability per sweep window, or the single effect without the sweep) and its data (.json =
// rt::ana::knockoutReadoutJson, .npy = the figure's [1, n] row).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// Throws std::invalid_argument when the snapshot has no knockout readout.
vis::FigureSpec knockoutFigure(const Snapshot& s, const QString& caption);
// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeKnockoutData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
