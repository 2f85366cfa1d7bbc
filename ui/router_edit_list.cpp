// The list of router edits in force (router_edit_list.h).
#include "ui/router_edit_list.h"

#include <QHeaderView>
#include <QToolButton>

namespace ll::ui {

QString routerEditKindName(rt::RouterEditKind kind) {
  switch (kind) {
    case rt::RouterEditKind::Bias:
      return QStringLiteral("bias");
    case rt::RouterEditKind::BiasStd:
      return QStringLiteral("bias \u00d7 std");
    case rt::RouterEditKind::Force:
      return QStringLiteral("force");
    case rt::RouterEditKind::Ban:
      return QStringLiteral("ban");
  }
  return {};
}

RouterEditList::RouterEditList(QWidget* parent) : QTableWidget(0, 5, parent) {
  setObjectName(QStringLiteral("routerEditList"));
  setHorizontalHeaderLabels({tr("Layer"), tr("Expert"), tr("Kind"), tr("Value"), QString()});
  verticalHeader()->setVisible(false);
  setEditTriggers(QAbstractItemView::NoEditTriggers);
  setSelectionMode(QAbstractItemView::NoSelection);
  horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
  // Header plus kVisibleRows rows, so several edits are readable at once.
  const int row = verticalHeader()->defaultSectionSize();
  setMinimumHeight(horizontalHeader()->sizeHint().height() + kVisibleRows * row + 2 * frameWidth() +
                   2);
}

void RouterEditList::setRows(const std::vector<RouterEditRow>& rows) {
  setRowCount(0);  // drops the old rows' remove buttons too
  setRowCount(static_cast<int>(rows.size()));
  for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
    const RouterEditRow& e = rows[size_t(r)];
    const bool valued = e.kind == rt::RouterEditKind::Bias || e.kind == rt::RouterEditKind::BiasStd;
    const QStringList cells{
        e.layers, QString::number(e.expert), routerEditKindName(e.kind),
        valued ? QString::number(double(e.value), 'f', 2) : QStringLiteral("-")};
    for (int c = 0; c < cells.size(); ++c) setItem(r, c, new QTableWidgetItem(cells[c]));
    auto* remove = new QToolButton(this);
    remove->setText(QStringLiteral("\u2715"));
    remove->setToolTip(tr("Remove this edit"));
    remove->setAutoRaise(true);
    connect(remove, &QToolButton::clicked, this, [this, r] { emit removeRequested(r); });
    setCellWidget(r, 4, remove);
  }
}

QToolButton* RouterEditList::removeButton(int row) const {
  return qobject_cast<QToolButton*>(cellWidget(row, 4));
}

}  // namespace ll::ui
