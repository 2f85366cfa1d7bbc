// Drops of local files anywhere on a main window (panels, the prompt editor, the native Vulkan
// windows inside the docks, floating docks) open the file, instead of each widget's own handling.
#pragma once

#include <QObject>

#include <functional>

class QMimeData;
class QWidget;
class QWindow;

namespace ll::ui {

// Installed on the application: the drag events Qt sends to any widget or QWindow of `window`
// (found by walking up the parents, across floating docks and embedded native windows) that
// carry local files are accepted here and their drop handed to `open`. Text drags pass through.
class FileDropFilter : public QObject {
 public:
  FileDropFilter(QWidget* window, std::function<bool(const QMimeData*)> open);
  ~FileDropFilter() override;

  // The first local file or folder a drag carries (empty when none).
  static QString localFile(const QMimeData* mime);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  bool belongsToWindow(QObject* o) const;

  QWidget* m_window;
  std::function<bool(const QMimeData*)> m_open;
};

}  // namespace ll::ui
