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
