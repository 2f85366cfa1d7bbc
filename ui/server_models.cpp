// Choosing among a server's models off the UI thread (see server_models.h).
#include "ui/server_models.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QThread>
#include <QVBoxLayout>

#include <memory>

namespace ll::ui {

void listServerModels(const RemoteTarget& target, QObject* context,
                      std::function<void(const ServerModels&, const QString& error)> done) {
  struct Answer {
    ServerModels models;
    QString error;
  };
  auto answer = std::make_shared<Answer>();
  // Not parented to context: a dialog closed while the server is slow must not delete a running
  // thread; the thread deletes itself when the call returns (within its deadline).
  QThread* t = QThread::create([target, answer] {
    try {
      answer->models = fetchServerModels(target, kListModelsDeadlineMs);
    } catch (const std::exception& e) {
      answer->error = QString::fromUtf8(e.what());
    }
  });
  QObject::connect(t, &QThread::finished, context,
                   [answer, done = std::move(done)] { done(answer->models, answer->error); });
  QObject::connect(t, &QThread::finished, t, &QObject::deleteLater);
  t->start();
}

QString fillServerModels(QComboBox* combo, const ServerModels& models, const QString& error) {
  if (!error.isEmpty()) return QObject::tr("Could not list the server's models: %1").arg(error);
  const QString typed = combo->currentText();
  combo->clear();
  for (qsizetype i = 0; i < models.paths.size(); ++i) {
    combo->addItem(models.paths[i]);
    combo->setItemData(int(i), models.details.value(i), Qt::ToolTipRole);
  }
  combo->setEditText(typed);
  if (models.paths.isEmpty())
    return QObject::tr("The server lists no models (.gguf files or safetensors folders).");
  return models.truncated
             ? QObject::tr("The first %n models on the server (more are not listed)", nullptr,
                           int(models.paths.size()))
             : QObject::tr("%n model(s) on the server", nullptr, int(models.paths.size()));
}

ServerModelDialog::ServerModelDialog(const RemoteTarget& server, const QString& title,
                                     const QString& current, QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(title);
  auto* v = new QVBoxLayout(this);
  auto* intro =
      new QLabel(tr("A model on the server %1, its path under the server's --models folder:")
                     .arg(server.address()),
                 this);
  intro->setWordWrap(true);
  v->addWidget(intro);
  m_combo = new QComboBox(this);
  m_combo->setEditable(true);
  m_combo->setInsertPolicy(QComboBox::NoInsert);
  m_combo->setEditText(current);
  m_combo->setMinimumContentsLength(40);
  v->addWidget(m_combo);
  m_status = new QLabel(tr("Listing the server's models..."), this);
  m_status->setWordWrap(true);
  v->addWidget(m_status);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  v->addWidget(buttons);
  const auto update = [this, buttons] {
    buttons->button(QDialogButtonBox::Ok)->setEnabled(!path().isEmpty());
  };
  connect(m_combo, &QComboBox::currentTextChanged, this, update);
  update();
  listServerModels(server, this, [this](const ServerModels& models, const QString& error) {
    m_status->setText(fillServerModels(m_combo, models, error));
    m_listed = true;
    emit modelsListed();
  });
}

QString ServerModelDialog::path() const {
  return m_combo->currentText().trimmed();
}

}  // namespace ll::ui
