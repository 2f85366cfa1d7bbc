#include "ui/model_panel.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>

namespace ll::ui {

namespace {
constexpr int kMaxRecent = 8;
const char* kRecentKey = "recentModels";
}  // namespace

ModelPanel::ModelPanel(SelectionModel* selection, QWidget* parent) : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  auto* row = new QHBoxLayout;
  m_open = new QPushButton(tr("Open model file..."), this);
  m_open->setToolTip(
      tr("Open a GGUF file (or a llama2.c .bin); you can also drop a file or "
         "folder on the window"));
  m_openFolder = new QPushButton(tr("Open HF folder..."), this);
  row->addWidget(m_open);
  row->addWidget(m_openFolder);
  v->addLayout(row);
  m_progress = new QProgressBar(this);
  m_progress->setRange(0, 1000);
  m_progress->setVisible(false);
  m_phase = new QLabel(this);
  m_phase->setVisible(false);
  v->addWidget(m_progress);
  v->addWidget(m_phase);
  m_error = new QLabel(this);
  m_error->setWordWrap(true);
  m_error->setStyleSheet(QStringLiteral("color: #c0392b;"));
  m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_error->setVisible(false);
  v->addWidget(m_error);
  m_card = new QLabel(tr("No model loaded."), this);
  m_card->setWordWrap(true);
  m_card->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_card->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  v->addWidget(m_card);
  v->addWidget(new QLabel(tr("Recent:"), this));
  m_recent = new QListWidget(this);
  m_recent->setMaximumHeight(110);
  v->addWidget(m_recent);
  v->addStretch(1);
  for (const QString& p : recentFiles()) m_recent->addItem(p);
  connect(m_open, &QPushButton::clicked, this, &ModelPanel::chooseFile);
  connect(m_openFolder, &QPushButton::clicked, this, &ModelPanel::chooseFolder);
  connect(m_recent, &QListWidget::itemActivated, this,
          [this](QListWidgetItem* it) { emit openRequested(it->text()); });
}

void ModelPanel::chooseFile() {
  const QString p = QFileDialog::getOpenFileName(this, tr("Open model"), QString(),
                                                 tr("Models (*.gguf *.bin *.json);;All files (*)"));
  if (!p.isEmpty()) emit openRequested(p);
}

void ModelPanel::chooseFolder() {
  const QString p = QFileDialog::getExistingDirectory(this, tr("Open Hugging Face folder"));
  if (!p.isEmpty()) emit openRequested(p);
}

QStringList ModelPanel::recentFiles() const {
  return QSettings().value(QLatin1String(kRecentKey)).toStringList();
}

void ModelPanel::addRecent(const QString& path) {
  QStringList r = recentFiles();
  r.removeAll(path);
  r.prepend(path);
  while (r.size() > kMaxRecent) r.removeLast();
  QSettings().setValue(QLatin1String(kRecentKey), r);
  m_recent->clear();
  for (const QString& p : r) m_recent->addItem(p);
}

void ModelPanel::showSnapshot(const SnapshotPtr& snapshot) {
  m_snapshot = snapshot;
}

void ModelPanel::setNoModel(bool noModel) {
  // The call to action is the big accent button until a model is open.
  m_open->setDefault(noModel);
  m_open->setMinimumHeight(noModel ? 44 : 0);
  QFont f = m_open->font();
  f.setBold(noModel);
  m_open->setFont(f);
  if (noModel)
    m_card->setText(
        tr("<b>No model loaded.</b><br>Open a GGUF file or a Hugging Face folder "
           "(File &gt; Open, Ctrl+O, or drop it on the window). Until then the "
           "attention panel shows a synthetic test heatmap."));
}

void ModelPanel::setLoading(const QString& path) {
  m_progress->setValue(0);
  m_progress->setVisible(true);
  m_phase->setText(tr("Loading %1...").arg(QFileInfo(path).fileName()));
  m_phase->setVisible(true);
  m_error->setVisible(false);
}

void ModelPanel::setProgress(float fraction, const QString& phase) {
  m_progress->setValue(static_cast<int>(fraction * 1000.0f));
  if (!phase.isEmpty()) m_phase->setText(phase);
}

void ModelPanel::setError(const QString& path, const QString& error) {
  m_progress->setVisible(false);
  m_phase->setVisible(false);
  m_error->setText(tr("Could not open %1:\n%2").arg(path, error));
  m_error->setVisible(true);
}

QString ModelPanel::cardText() const {
  return m_card->text();
}
QString ModelPanel::errorText() const {
  return m_error->isVisible() ? m_error->text() : QString();
}

void ModelPanel::modelChanged(const ModelInfo& m) {
  m_progress->setVisible(false);
  m_phase->setVisible(false);
  m_error->setVisible(false);
  setNoModel(false);
  const double mib = double(m.fileBytes) / (1024.0 * 1024.0);
  QString experts =
      m.nExpert > 0 ? tr("%1 (top-%2)").arg(m.nExpert).arg(m.nExpertUsed) : tr("dense");
  // MoE files have no dense FFN (nFf 0): show the per-expert hidden size instead.
  QString ffn = m.nFf > 0 ? QString::number(m.nFf) : tr("%1 per expert").arg(m.nFfExpert);
  QString chat = !m.hasTemplate           ? tr("none")
                 : m.chatFormat.isEmpty() ? tr("present, format not recognised")
                                          : m.chatFormat;
  m_card->setText(tr("<b>%1</b><br>"
                     "<table>"
                     "<tr><td>Architecture</td><td>%2 (%3)</td></tr>"
                     "<tr><td>Layers</td><td>%4</td></tr>"
                     "<tr><td>Embedding</td><td>%5</td></tr>"
                     "<tr><td>Heads / KV heads</td><td>%6 / %7 (dim %8)</td></tr>"
                     "<tr><td>Feed-forward</td><td>%9</td></tr>"
                     "<tr><td>Experts</td><td>%10</td></tr>"
                     "<tr><td>Attention</td><td>%17</td></tr>"
                     "<tr><td>Context</td><td>%11</td></tr>"
                     "<tr><td>Vocabulary</td><td>%12</td></tr>"
                     "<tr><td>Quantization</td><td>%13</td></tr>"
                     "<tr><td>Size</td><td>%14 MiB</td></tr>"
                     "<tr><td>Chat template</td><td>%15</td></tr>"
                     "<tr><td>Backend</td><td>%16</td></tr>"
                     "%18"
                     "</table>")
                      .arg(m.name.toHtmlEscaped(), m.arch.toHtmlEscaped(), m.format)
                      .arg(m.nLayer)
                      .arg(m.nEmbd)
                      .arg(m.nHead)
                      .arg(m.nHeadKv)
                      .arg(m.headDim)
                      .arg(ffn)
                      .arg(experts)
                      .arg(m.nCtx)
                      .arg(m.nVocab)
                      .arg(m.quantization.toHtmlEscaped())
                      .arg(mib, 0, 'f', 1)
                      .arg(chat.toHtmlEscaped(), m.backend.toHtmlEscaped())
                      .arg(m.attentionFeatures.isEmpty() ? tr("full causal")
                                                         : m.attentionFeatures.toHtmlEscaped())
                      .arg(m.server.isEmpty()
                               ? QString()
                               : tr("<tr><td>Server</td><td>%1 (remote model: %2)</td></tr>")
                                     .arg(m.server.toHtmlEscaped(), m.path.toHtmlEscaped())));
  // A server's path is no file here: File > Open recent lists local models only.
  if (m.server.isEmpty()) addRecent(m.path);
}

}  // namespace ll::ui
