#include "ui/output_panel.h"

#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

namespace ll::ui {

OutputPanel::OutputPanel(SelectionModel* selection, QWidget* parent) : Panel(selection, parent) {
  auto* v = new QVBoxLayout(this);
  auto* form = new QFormLayout;
  m_tokens = new QSpinBox(this);
  m_tokens->setRange(0, 256);
  m_tokens->setValue(16);
  form->addRow(tr("Continue for (tokens)"), m_tokens);
  v->addLayout(form);
  m_text = new QPlainTextEdit(this);
  m_text->setReadOnly(true);
  m_text->setMaximumHeight(100);
  v->addWidget(m_text);
  m_top = new QTableWidget(0, 3, this);
  m_top->setHorizontalHeaderLabels({tr("Next token"), tr("Probability"), tr("")});
  m_top->horizontalHeader()->setStretchLastSection(true);
  m_top->verticalHeader()->setVisible(false);
  m_top->setEditTriggers(QAbstractItemView::NoEditTriggers);
  v->addWidget(m_top, 1);
  m_stats = new QLabel(this);
  v->addWidget(m_stats);
  connect(m_tokens, &QSpinBox::valueChanged, this, &Panel::settingsChanged);
}

void OutputPanel::applyTo(ViewState& state) const {
  state.outputTokens = m_tokens->value();
}

QString OutputPanel::continuation() const {
  return m_text->toPlainText();
}

void OutputPanel::clearData() {
  Panel::clearData();
  m_top->setRowCount(0);
  m_text->clear();
  m_stats->clear();
}

void OutputPanel::showSnapshot(const SnapshotPtr& snapshot) {
  m_snapshot = snapshot;
  const Snapshot& s = *snapshot;
  m_top->setRowCount(static_cast<int>(s.topNext.size()));
  for (int i = 0; i < static_cast<int>(s.topNext.size()); ++i) {
    const auto& [tok, p] = s.topNext[i];
    m_top->setItem(i, 0, new QTableWidgetItem(QStringLiteral("\"%1\"").arg(tok)));
    m_top->setItem(i, 1, new QTableWidgetItem(QString::number(double(p), 'f', 4)));
    auto* bar = new QTableWidgetItem(QString(qBound(0, int(p * 40.0f + 0.5f), 40), QChar(0x2588)));
    m_top->setItem(i, 2, bar);
  }
  if (s.hasContinuation) m_text->setPlainText(s.continuation);
  m_stats->setText(tr("%1 tokens, %2 reused from the previous pass, %3 ms")
                       .arg(s.nTokens)
                       .arg(s.reusedRows)
                       .arg(s.computeMs, 0, 'f', 1));
}

}  // namespace ll::ui
