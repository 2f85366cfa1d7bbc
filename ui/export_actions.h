// File menu additions: Export figure (PNG/SVG/PDF) and Export data (.npy
// tensors, token-selection JSON/CSV) for every view, and Open/Save session
// (runtime/api/session_file.h). Installed on an existing MainWindow so the
// window itself needs no export code per view.
#pragma once

#include <QString>

#include "runtime/api/session_file.h"
#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

class MainWindow;

// The views a figure can be made of, as in `layerlens-cli figure --view`.
QStringList exportViews();
// A figure of one view from the snapshot the panels show. lens: the selected
// token's entropy per layer (the snapshot carries that column; the CLI draws
// the full matrix). Throws std::invalid_argument when the snapshot has no data
// for the view.
vis::FigureSpec figureFromSnapshot(const Snapshot& s, const QString& view,
                                   const QString& modelName);
// .npy of the view's tensor; for "selection" also .json / .csv (token-selection
// export).
bool exportViewData(const Snapshot& s, const QString& view, const QString& path,
                    const QString& modelName, QString* error);
// The window's state as a session document (model, prompt, router edits, selection, view).
// Opening a session restores the model, the prompt, the layer and the head; router edits,
// selection settings and steering are saved but not yet pushed back into the panels (they have
// no setters outside their own widgets).
rt::SessionState sessionFromSnapshot(const Snapshot& s, const QString& modelPath);

// Adds the actions to the window's File menu (created when missing).
void installExportActions(MainWindow* window);

}  // namespace ll::ui
