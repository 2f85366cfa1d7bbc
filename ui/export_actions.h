// File menu additions (export_actions.cpp; the views themselves in export_views.cpp): Export figure
// (PNG/SVG/PDF) and Export data (.npy tensors, token-selection JSON/CSV) for every view, and
// Open/Save session (runtime/api/session_file.h). Installed on an existing MainWindow so the window
// itself needs no export code per view.
#pragma once

#include <QString>

#include <functional>

#include "runtime/api/session_file.h"
#include "ui/view_state.h"
#include "visualizers/figure/figure.h"

namespace ll::ui {

class MainWindow;

// The views a figure can be made of, as in `layerlens-cli figure --view`.
QStringList exportViews();
// The views whose data can be exported: exportViews() and the residual stream ("residual": the
// selected layer's [T, d]; "residuals": every layer, [L, T, d]).
QStringList dataViews();
// Views whose data export defaults to JSON (the document the CLI writes; .npy too).
bool jsonView(const QString& view);

// Full-length exports that need the runtime, run on the window's worker from the trace of the
// snapshot shown now (as `layerlens-cli figure` makes them): "headgrid" (every layer x head at the
// full prompt length; .npy [L, H, T, T] written one head at a time, the figure's tiles
// mean-pooled past 4096 cells a side), "residual" and "residuals" (.npy only). path's suffix
// picks .npy or a figure format. done(error) runs on the UI thread ("" on success); false:
// nothing was started (error says why). "lens" is not one of them: it is the grid the Logit lens
// panel shows (figureFromSnapshot), computed once for both.
bool exportFullView(MainWindow* window, const QString& view, const QString& path,
                    std::function<void(const QString& error)> done, QString* error = nullptr);
// Whether exportFullView handles the view (rather than the shown snapshot) for this file.
bool needsFullExport(const QString& view, const QString& path);
// A figure of one view from the snapshot the panels show. lens: the Logit lens panel's grid
// (its rows, window of token columns, final-norm setting and value; .npy [rows, cols]). Throws
// std::invalid_argument when the snapshot has no data for the view.
vis::FigureSpec figureFromSnapshot(const Snapshot& s, const QString& view,
                                   const QString& modelName);
// .npy of the view's tensor; for "selection" also .json / .csv (token-selection
// export); "attribution": .json as `layerlens-cli attribute` writes it, .npy the heads [L, H].
bool exportViewData(const Snapshot& s, const QString& view, const QString& path,
                    const QString& modelName, QString* error);
// A snapshot as a session document (model, prompt, router edits, view, the token selection it
// shows). Save session writes MainWindow::sessionDocument(), which takes every panel setting from
// the panels themselves and the selection record from here.
rt::SessionState sessionFromSnapshot(const Snapshot& s, const QString& modelPath);
// What File > Save / Open session do after their dialogs (false: error says why). Opening
// resolves a relative model path against the session file's folder and restores every saved
// field into the panels (MainWindow::applySessionDocument).
bool saveSessionFile(MainWindow* window, const QString& path, QString* error);
bool openSessionFile(MainWindow* window, const QString& path, QString* error);

// Adds the actions to the window's File menu (created when missing).
void installExportActions(MainWindow* window);

}  // namespace ll::ui
