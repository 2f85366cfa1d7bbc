// Export of the Teacher panel's comparison: a figure (the student's normalised entropy and the JSD
// per token, overconfident tokens marked) and its data (.json = `layerlens-cli compare`'s document,
// .npy = the figure's [2, T] matrix).
#pragma once

#include <QString>

#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

// Throws std::invalid_argument when the snapshot has no teacher comparison.
vis::FigureSpec teacherFigure(const Snapshot& s, const QString& caption);
// .json or .npy by the path's suffix; throws std::invalid_argument / std::runtime_error.
void writeTeacherData(const Snapshot& s, const QString& path);

}  // namespace ll::ui
