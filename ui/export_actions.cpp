// File > Export figure / Export data (dialogs over the views of export_views.cpp) and session
// open/save wired onto the main window.
#include "ui/export_actions.h"

#include <QAction>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPointer>
#include <QStatusBar>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "runtime/api/session.h"
#include "ui/main_window.h"
#include "ui/selection_model.h"
#include "ui/session_controller.h"
#include "visualizers/figure/figure_builder.h"

namespace ll::ui {

namespace {

// Keeps the loaded model's path (for captions and sessions) and owns the
// dialogs.
class ExportActions : public QObject {
 public:
  explicit ExportActions(MainWindow* w) : QObject(w), m_window(w) {
    connect(w->controller(), &SessionController::modelLoaded, this,
            [this](const ModelInfo& info) { m_modelPath = info.path; });
  }

  void exportFigure() {
    const SnapshotPtr s = m_window->shownSnapshot();
    if (!s) return message(tr("Nothing to export yet: open a model first."));
    bool ok = false;
    const QString view = QInputDialog::getItem(m_window, tr("Export figure"), tr("View:"),
                                               exportViews(), 0, false, &ok);
    if (!ok) return;
    const QString path = QFileDialog::getSaveFileName(m_window, tr("Export figure"), view + ".pdf",
                                                      tr("Figures (*.pdf *.svg *.png)"));
    if (path.isEmpty()) return;
    if (needsFullExport(view, path)) return exportFull(view, path);
    try {
      const auto spec = figureFromSnapshot(*s, view, modelName());
      QString error, note;
      if (!vis::exportFigure(spec, path, 2.0, &error, &note)) return message(error);
      m_window->statusBar()->showMessage(tr("Wrote %1 %2").arg(path, note), 5000);
    } catch (const std::exception& e) {
      message(QString::fromStdString(e.what()));
    }
  }

  void exportData() {
    const SnapshotPtr s = m_window->shownSnapshot();
    if (!s) return message(tr("Nothing to export yet: open a model first."));
    bool ok = false;
    const QString view =
        QInputDialog::getItem(m_window, tr("Export data"), tr("View:"), dataViews(), 0, false, &ok);
    if (!ok) return;
    const QString path = QFileDialog::getSaveFileName(
        m_window, tr("Export data"), view + (jsonView(view) ? ".json" : ".npy"),
        view == "selection" ? tr("Data (*.npy *.json *.csv)")
        : jsonView(view)    ? tr("Data (*.json *.npy)")
                            : tr("NumPy (*.npy)"));
    if (path.isEmpty()) return;
    if (needsFullExport(view, path)) return exportFull(view, path);
    QString error;
    if (!exportViewData(*s, view, path, modelName(), &error)) return message(error);
    m_window->statusBar()->showMessage(tr("Wrote %1").arg(path), 5000);
  }

  void saveSession() {
    if (!m_window->controller()->hasModel())
      return message(tr("Nothing to save yet: open a model first."));
    const QString path = QFileDialog::getSaveFileName(
        m_window, tr("Save session"), "session.llsession", tr("LayerLens sessions (*.llsession)"));
    if (path.isEmpty()) return;
    QString error;
    if (!saveSessionFile(m_window, path, &error)) return message(error);
    m_window->statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
  }

  void openSession() {
    const QString path = QFileDialog::getOpenFileName(
        m_window, tr("Open session"), QString(), tr("LayerLens sessions (*.llsession *.json)"));
    if (path.isEmpty()) return;
    QString error;
    if (!openSessionFile(m_window, path, &error)) message(error);
  }

 private:
  // Runs on the worker; the status bar says when the file is there.
  void exportFull(const QString& view, const QString& path) {
    QPointer<ExportActions> self(this);
    QString error;
    const bool started = exportFullView(
        m_window, view, path,
        [self, path](const QString& err) {
          if (!self) return;
          if (!err.isEmpty()) return self->message(err);
          self->m_window->statusBar()->showMessage(tr("Wrote %1").arg(path), 5000);
        },
        &error);
    if (!started) return message(error);
    m_window->statusBar()->showMessage(tr("Exporting %1 (full prompt length)...").arg(view));
  }
  QString modelName() const { return QFileInfo(m_modelPath).fileName(); }
  void message(const QString& text) { QMessageBox::warning(m_window, tr("LayerLens"), text); }
  MainWindow* m_window;
  QString m_modelPath;
};

QMenu* fileMenu(MainWindow* w) {
  for (QAction* a : w->menuBar()->actions())
    if (a->menu() && a->text().remove('&') == QObject::tr("File")) return a->menu();
  return w->menuBar()->addMenu(QObject::tr("&File"));
}

}  // namespace

bool saveSessionFile(MainWindow* window, const QString& path, QString* error) {
  try {
    rt::saveSession(path.toStdString(), window->sessionDocument());
    return true;
  } catch (const std::exception& e) {
    if (error) *error = QString::fromStdString(e.what());
    return false;
  }
}

bool openSessionFile(MainWindow* window, const QString& path, QString* error) {
  try {
    const rt::SessionState st = rt::loadSession(path.toStdString());
    QString model = QString::fromStdString(st.modelPath);
    if (QFileInfo(model).isRelative())  // relative to the session file
      model = QFileInfo(path).dir().filePath(model);
    window->applySessionDocument(st, model);
    return true;
  } catch (const std::exception& e) {
    if (error) *error = QString::fromStdString(e.what());
    return false;
  }
}

void installExportActions(MainWindow* window) {
  auto* ex = new ExportActions(window);
  QMenu* file = fileMenu(window);
  // Above the separator before Quit: File ends with Quit.
  QAction* before = nullptr;
  for (QAction* a : file->actions())
    if (a->objectName() == QLatin1String("fileQuitSeparator")) before = a;
  const auto add = [&](const QString& text, auto slot) {
    auto* a = new QAction(text, file);
    QObject::connect(a, &QAction::triggered, ex, slot);
    file->insertAction(before, a);
  };
  file->insertSeparator(before);
  add(QObject::tr("Open session..."), [ex] { ex->openSession(); });
  add(QObject::tr("Save session..."), [ex] { ex->saveSession(); });
  add(QObject::tr("Export figure (PNG, SVG, PDF)..."), [ex] { ex->exportFigure(); });
  add(QObject::tr("Export data (.npy, selection JSON/CSV)..."), [ex] { ex->exportData(); });
}

}  // namespace ll::ui
