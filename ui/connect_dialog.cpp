// File > Connect to server... (see connect_dialog.h).
#include "ui/connect_dialog.h"

#include "ui/server_models.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>

namespace ll::ui {

namespace {

constexpr const char* kHostKey = "remote/host";
constexpr const char* kPortKey = "remote/port";
constexpr const char* kModelKey = "remote/model";

// A line edit with a Browse... button beside it that picks an existing file.
QWidget* fileRow(QWidget* parent, QLineEdit* edit, const QString& title) {
  auto* row = new QWidget(parent);
  auto* h = new QHBoxLayout(row);
  h->setContentsMargins(0, 0, 0, 0);
  h->addWidget(edit, 1);
  auto* browse = new QPushButton(QObject::tr("Browse..."), row);
  QObject::connect(browse, &QPushButton::clicked, row, [row, edit, title] {
    const QString f = QFileDialog::getOpenFileName(row, title, edit->text());
    if (!f.isEmpty()) edit->setText(f);
  });
  h->addWidget(browse);
  return row;
}

}  // namespace

ConnectDialog::ConnectDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Connect to server"));
  m_host = new QLineEdit(this);
  m_port = new QSpinBox(this);
  m_port->setRange(1, 65535);
  m_token = new QLineEdit(this);
  m_token->setPlaceholderText(tr("none (a loopback server without --token-file)"));
  m_ca = new QLineEdit(this);
  m_ca->setPlaceholderText(tr("none (no TLS)"));
  m_model = new QComboBox(this);
  m_model->setEditable(true);
  m_model->setInsertPolicy(QComboBox::NoInsert);
  m_model->setMinimumContentsLength(32);
  m_model->lineEdit()->setPlaceholderText(tr("path under the server's --models folder"));
  m_list = new QPushButton(tr("&List"), this);
  m_list->setToolTip(tr("Ask the server for the models under its --models folder"));
  connect(m_list, &QPushButton::clicked, this, &ConnectDialog::listModels);
  auto* modelRow = new QWidget(this);
  auto* mh = new QHBoxLayout(modelRow);
  mh->setContentsMargins(0, 0, 0, 0);
  mh->addWidget(m_model, 1);
  mh->addWidget(m_list);
  m_listStatus = new QLabel(this);
  m_listStatus->setWordWrap(true);
  m_listStatus->setVisible(false);
  auto* form = new QFormLayout(this);
  auto* intro = new QLabel(
      tr("Attach to a server started with <tt>layerlens-cli serve --models DIR</tt>: the model "
         "runs there and the panels show its results."),
      this);
  intro->setWordWrap(true);
  form->addRow(intro);
  form->addRow(tr("&Host"), m_host);
  form->addRow(tr("&Port"), m_port);
  form->addRow(tr("&Token file"), fileRow(this, m_token, tr("Token file")));
  form->addRow(tr("TLS &CA file"), fileRow(this, m_ca, tr("CA certificate (PEM)")));
  form->addRow(tr("&Model on the server"), modelRow);
  form->addRow(QString(), m_listStatus);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Connect"));
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  form->addRow(buttons);
  const auto update = [this, buttons] {
    buttons->button(QDialogButtonBox::Ok)
        ->setEnabled(!m_host->text().trimmed().isEmpty() &&
                     !m_model->currentText().trimmed().isEmpty());
  };
  connect(m_host, &QLineEdit::textChanged, this, update);
  connect(m_model, &QComboBox::currentTextChanged, this, update);
  setTarget(RemoteTarget{});
  update();
}

RemoteTarget ConnectDialog::target() const {
  RemoteTarget t;
  t.host = m_host->text().trimmed();
  t.port = m_port->value();
  t.tokenFile = m_token->text().trimmed();
  t.caFile = m_ca->text().trimmed();
  t.model = m_model->currentText().trimmed();
  return t;
}

void ConnectDialog::setTarget(const RemoteTarget& t) {
  m_host->setText(t.host);
  m_port->setValue(t.port);
  m_token->setText(t.tokenFile);
  m_ca->setText(t.caFile);
  m_model->setEditText(t.model);
}

QLineEdit* ConnectDialog::modelEdit() const {
  return m_model->lineEdit();
}

void ConnectDialog::listModels() {
  const RemoteTarget t = target();
  if (t.host.isEmpty()) return;
  m_list->setEnabled(false);
  m_listed = false;
  m_listStatus->setVisible(true);
  m_listStatus->setText(tr("Asking %1 for its models...").arg(t.address()));
  listServerModels(t, this, [this](const ServerModels& models, const QString& error) {
    m_listStatus->setText(fillServerModels(m_model, models, error));
    m_list->setEnabled(true);
    m_listed = true;
    emit modelsListed();
  });
}

RemoteTarget savedRemoteTarget() {
  QSettings settings;
  RemoteTarget t;
  t.host = settings.value(kHostKey, t.host).toString();
  t.port = settings.value(kPortKey, t.port).toInt();
  t.model = settings.value(kModelKey, t.model).toString();
  return t;
}

void saveRemoteTarget(const RemoteTarget& t) {
  QSettings settings;
  settings.setValue(kHostKey, t.host);
  settings.setValue(kPortKey, t.port);
  settings.setValue(kModelKey, t.model);
}

}  // namespace ll::ui
