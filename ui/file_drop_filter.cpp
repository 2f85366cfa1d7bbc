// FileDropFilter: one place that turns a file dragged over any part of the main window into
// "open this file". An application-wide filter rather than one per widget, because drag events
// go to whichever descendant accepts drops (the prompt editor would paste the path as text) and,
// on some platforms, to the embedded QVulkanWindows, which are QWindows outside the QWidget tree;
// panels rebuilt after start-up are covered as well.
#include "ui/file_drop_filter.h"

#include <QApplication>
#include <QDockWidget>
#include <QDropEvent>
#include <QMimeData>
#include <QUrl>
#include <QWidget>
#include <QWindow>

namespace ll::ui {

FileDropFilter::FileDropFilter(QWidget* window, std::function<bool(const QMimeData*)> open)
    : QObject(window), m_window(window), m_open(std::move(open)) {
  qApp->installEventFilter(this);
}

FileDropFilter::~FileDropFilter() {
  if (qApp) qApp->removeEventFilter(this);
}

QString FileDropFilter::localFile(const QMimeData* mime) {
  if (!mime || !mime->hasUrls()) return {};
  const QList<QUrl> urls = mime->urls();
  return !urls.isEmpty() && urls.first().isLocalFile() ? urls.first().toLocalFile() : QString();
}

bool FileDropFilter::belongsToWindow(QObject* o) const {
  if (auto* w = qobject_cast<QWidget*>(o)) {
    // parentWidget, not isAncestorOf: a floating dock is a window of its own but still ours.
    for (; w; w = w->parentWidget())
      if (w == m_window) return true;
    return false;
  }
  auto* win = qobject_cast<QWindow*>(o);
  if (!win) return false;
  while (win->parent()) win = win->parent();  // an embedded native window: up to its top level
  if (win == m_window->windowHandle()) return true;
  for (QDockWidget* d : m_window->findChildren<QDockWidget*>())
    if (d->isFloating() && d->windowHandle() == win) return true;
  return false;
}

bool FileDropFilter::eventFilter(QObject* watched, QEvent* event) {
  const QEvent::Type t = event->type();
  if (t != QEvent::DragEnter && t != QEvent::DragMove && t != QEvent::Drop) return false;
  auto* e = static_cast<QDropEvent*>(event);  // QDragEnterEvent and QDragMoveEvent derive from it
  if (localFile(e->mimeData()).isEmpty() || !belongsToWindow(watched)) return false;
  if (t == QEvent::Drop) {
    if (m_open(e->mimeData())) e->acceptProposedAction();
    return true;
  }
  e->acceptProposedAction();
  return true;
}

}  // namespace ll::ui
