// File > Export of the Attribution panel (view "attribution"): its figure (layers x [heads,
// attention, MLP] on the diverging colormap) and its data (.json as `layerlens-cli attribute`
// writes it, .npy the per-head terms [nLayer, nHead]).
// The figure is built by visualizers/figure/analysis_figures (shared with the CLI's --figure).
#pragma once

#include "ui/view_state.h"
#include "visualizers/figure/figure_builder.h"

#include <QString>

namespace ll::ui {

// By the path's suffix (json or npy); throws std::runtime_error when the file cannot be written.
void writeAttributionData(const rt::ana::Attribution& a, const QString& path);

}  // namespace ll::ui
