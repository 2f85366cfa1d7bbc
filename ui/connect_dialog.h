// File > Connect to server...: where a `layerlens-cli serve` server is (host, port, token file,
// optional TLS CA file) and the model to open there (a path under its --models folder, typed or
// picked from the server's list, asked off the UI thread by the List button). The last host, port
// and model are kept in QSettings.
#pragma once

#include "ui/remote_job.h"

#include <QDialog>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
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
  QLineEdit* modelEdit() const;
  QComboBox* modelCombo() const { return m_model; }
  QPushButton* listButton() const { return m_list; }
  QLabel* listStatus() const { return m_listStatus; }
  // Asks the server typed above for its models (the List button); the combo and the status line
  // fill when it answers (listed() then).
  void listModels();
  bool listed() const { return m_listed; }

 signals:
  void modelsListed();

 private:
  QLineEdit* m_host = nullptr;
  QSpinBox* m_port = nullptr;
  QLineEdit* m_token = nullptr;
  QLineEdit* m_ca = nullptr;
  QComboBox* m_model = nullptr;
  QPushButton* m_list = nullptr;
  QLabel* m_listStatus = nullptr;
  bool m_listed = false;
};

// The last target connected to (host, port and model; the defaults before the first).
RemoteTarget savedRemoteTarget();
void saveRemoteTarget(const RemoteTarget& target);

}  // namespace ll::ui
