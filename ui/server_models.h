// Choosing among a `layerlens-cli serve` server's models (its ListModels) without blocking the UI
// thread: the Connect dialog's "Model on the server" list and the remote Teacher panel's chooser.
#pragma once

#include "ui/remote_job.h"

#include <QDialog>

#include <functional>

class QComboBox;
class QLabel;

namespace ll::ui {

// A listing's deadline: a chooser says "no answer" after this long instead of waiting.
constexpr int kListModelsDeadlineMs = 5000;

// fetchServerModels on a thread of its own; done(models, error) runs afterwards on context's
// thread ("" error: listed), and not at all once context is gone.
void listServerModels(const RemoteTarget& target, QObject* context,
                      std::function<void(const ServerModels&, const QString& error)> done);

// Fills an editable combo with the listed paths (their details as tool tips), keeping the text
// typed in it; returns the status line to show ("3 models on the server", or the error).
QString fillServerModels(QComboBox* combo, const ServerModels& models, const QString& error);

// A path on the server: an editable list of its models, filled as the server answers.
class ServerModelDialog : public QDialog {
  Q_OBJECT
 public:
  ServerModelDialog(const RemoteTarget& server, const QString& title, const QString& current,
                    QWidget* parent = nullptr);

  QString path() const;
  QComboBox* combo() const { return m_combo; }
  QLabel* statusLabel() const { return m_status; }
  // Whether the server's answer (models or error) has arrived.
  bool listed() const { return m_listed; }

 signals:
  void modelsListed();

 private:
  QComboBox* m_combo = nullptr;
  QLabel* m_status = nullptr;
  bool m_listed = false;
};

}  // namespace ll::ui
