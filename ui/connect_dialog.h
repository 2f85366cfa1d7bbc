// File > Connect to server...: where a `layerlens-cli serve` server is (host, port, token file,
// optional TLS CA file) and the model to open there (a path under its --models folder). The last
// host, port and model are kept in QSettings.
#pragma once

#include "ui/remote_job.h"

#include <QDialog>

class QLineEdit;
class QSpinBox;

namespace ll::ui {

class ConnectDialog : public QDialog {
  Q_OBJECT
 public:
  explicit ConnectDialog(QWidget* parent = nullptr);

  RemoteTarget target() const;
  void setTarget(const RemoteTarget& target);

  QLineEdit* hostEdit() const { return m_host; }
  QSpinBox* portBox() const { return m_port; }
  QLineEdit* tokenEdit() const { return m_token; }
  QLineEdit* caEdit() const { return m_ca; }
  QLineEdit* modelEdit() const { return m_model; }

 private:
  QLineEdit* m_host = nullptr;
  QSpinBox* m_port = nullptr;
  QLineEdit* m_token = nullptr;
  QLineEdit* m_ca = nullptr;
  QLineEdit* m_model = nullptr;
};

// The last target connected to (host, port and model; the defaults before the first).
RemoteTarget savedRemoteTarget();
void saveRemoteTarget(const RemoteTarget& target);

}  // namespace ll::ui
