// The labels the experiment figures show (vis::AnalysisLabels), from the snapshot the panels show.
#pragma once

#include "ui/view_state.h"
#include "visualizers/figure/analysis_figures.h"

namespace ll::ui {

// view: the export view's name; it picks whose target / other tokens the labels carry.
vis::AnalysisLabels analysisLabels(const Snapshot& s, const QString& view);

}  // namespace ll::ui
