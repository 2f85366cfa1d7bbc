// File > Export of the Attribution panel (view "attribution"): its figure (layers x [heads,
// attention, MLP] on the diverging colormap) and its data (.json as `layerlens-cli attribute`
// writes it, .npy the per-head terms [nLayer, nHead]).
#pragma once

#include "ui/view_state.h"
#include "visualizers/figure/figure_builder.h"

#include <QString>

namespace ll::ui {

// Everything but the caption; s.attribution must be set.
void attributionFigure(const Snapshot& s, vis::FigureSpec& f);
// What the caption says of the terms (captionOf adds model, prompt and interventions).
QString attributionCaption(const rt::ana::Attribution& a);
// By the path's suffix (json or npy); throws std::runtime_error when the file cannot be written.
void writeAttributionData(const rt::ana::Attribution& a, const QString& path);

}  // namespace ll::ui
