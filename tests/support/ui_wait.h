// GUI tests (Qt): finding the shared model fixtures and waiting for the main window to settle
// after a load or an edit.
#pragma once

#include <QElapsedTimer>
#include <QFile>
#include <QString>
#include <QTest>
#include <optional>

#include "ui/main_window.h"
#include "ui/session_controller.h"

namespace uitest {

// A model of ../shared/models (LAYERLENS_SHARED_DIR); empty when absent, and the test skips.
inline QString modelPath(const char* name) {
  const QByteArray dir = qgetenv("LAYERLENS_SHARED_DIR");
  const QString p = QString::fromLocal8Bit(dir) + QStringLiteral("/models/") + QLatin1String(name);
  return !dir.isEmpty() && QFile::exists(p) ? p : QString();
}

// Waits until the window shows a complete snapshot and nothing is queued: a snapshot of `prompt`
// when given, else of the state the window last requested (a model must be loaded).
inline bool waitSettled(ll::ui::MainWindow* w, int timeoutMs = 60000,
                        const std::optional<QString>& prompt = std::nullopt) {
  QElapsedTimer t;
  t.start();
  while (t.elapsed() < timeoutMs) {
    QTest::qWait(20);
    const ll::ui::SnapshotPtr s = w->shownSnapshot();
    if (!s || !s->complete || w->controller()->busy()) continue;
    if (prompt ? s->state.prompt == prompt->toStdString()
               : w->controller()->hasModel() && s->state == w->requestedState())
      return true;
  }
  return false;
}

}  // namespace uitest
