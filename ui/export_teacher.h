// Data export of the Teacher panel's comparison: a figure (the student's normalised entropy and the
// JSD per token, overconfident tokens marked) and its data (.json = `layerlens-cli compare`'s
// document, .npy = the figure's [2, T] matrix). The figure is built by
// visualizers/figure/analysis_figures (shared with the CLI's --figure).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeTeacherData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
