// The keyboard-shortcuts dialog: reads the QActions' shortcuts each time it opens.
#include "ui/shortcuts_dialog.h"

#include <QAction>
#include <QDialog>
#include <QDialogButtonBox>
#include <QHeaderView>
#include <QMenu>
#include <QMenuBar>
#include <QSet>
#include <QTableWidget>
#include <QVBoxLayout>

namespace ll::ui {

namespace {

QString plainText(const QAction* a) {
  QString t = a->text();
  t.replace(QLatin1String("&&"), QLatin1String("\x01"));
  t.remove(QLatin1Char('&'));
  t.replace(QLatin1Char('\x01'), QLatin1Char('&'));
  if (t.endsWith(QLatin1String("..."))) t.chop(3);
  return t;
}

QString keys(const QAction* a) {
  QStringList out;
  for (const QKeySequence& k : a->shortcuts())
    if (!k.isEmpty()) out << k.toString(QKeySequence::NativeText);
  return out.join(QStringLiteral(", "));
}

void addMenu(const QMenu* menu, const QString& group, QList<ShortcutRow>& rows,
             QSet<const QAction*>& seen) {
  for (const QAction* a : menu->actions()) {
    seen.insert(a);
    if (a->menu()) {
      addMenu(a->menu(), group + QStringLiteral(" > ") + plainText(a->menu()->menuAction()), rows,
              seen);
    } else if (!a->isSeparator() && !keys(a).isEmpty()) {
      rows.append({group, plainText(a), keys(a)});
    }
  }
}

}  // namespace

QList<ShortcutRow> collectShortcuts(const QWidget* root) {
  QList<ShortcutRow> rows;
  QSet<const QAction*> seen;
  if (const auto* bar = root->findChild<QMenuBar*>())
    for (const QAction* top : bar->actions())
      if (top->menu()) addMenu(top->menu(), plainText(top), rows, seen);
  // Actions that live on widgets rather than in menus (the prompt editor's insert-tab).
  for (const QAction* a : root->findChildren<QAction*>()) {
    if (seen.contains(a) || a->menu() || keys(a).isEmpty()) continue;
    const auto* owner = qobject_cast<const QWidget*>(a->parent());
    QString group = QObject::tr("Other");
    if (owner && !owner->accessibleName().isEmpty()) group = owner->accessibleName();
    rows.append({group, plainText(a), keys(a)});
  }
  return rows;
}

QDialog* showShortcutsDialog(QWidget* window) {
  auto* dialog = new QDialog(window);
  dialog->setObjectName(QStringLiteral("shortcutsDialog"));
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setWindowTitle(QObject::tr("Keyboard shortcuts"));
  auto* v = new QVBoxLayout(dialog);
  const QList<ShortcutRow> rows = collectShortcuts(window);
  auto* table = new QTableWidget(rows.size(), 3, dialog);
  table->setObjectName(QStringLiteral("shortcutsTable"));
  table->setHorizontalHeaderLabels(
      {QObject::tr("Where"), QObject::tr("Action"), QObject::tr("Shortcut")});
  table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table->verticalHeader()->hide();
  for (int r = 0; r < rows.size(); ++r) {
    table->setItem(r, 0, new QTableWidgetItem(rows[r].group));
    table->setItem(r, 1, new QTableWidgetItem(rows[r].action));
    table->setItem(r, 2, new QTableWidgetItem(rows[r].shortcut));
  }
  table->resizeColumnsToContents();
  table->horizontalHeader()->setStretchLastSection(true);
  v->addWidget(table);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, dialog);
  QObject::connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::close);
  v->addWidget(buttons);
  dialog->resize(560, 420);
  dialog->show();
  return dialog;
}

}  // namespace ll::ui
