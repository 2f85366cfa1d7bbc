// The list of router edits in force (routing panel): one row per edit with its layers, expert,
// kind (bias, bias x std, force, ban) and value, and a remove button; tall enough to show several
// rows without scrolling.
#pragma once

#include "runtime/api/request.h"

#include <QString>
#include <QTableWidget>

#include <vector>

class QToolButton;

namespace ll::ui {

struct RouterEditRow {
  QString layers;  // "3", or "all (0-7)" for an edit applied in every layer
  int expert = 0;
  rt::RouterEditKind kind = rt::RouterEditKind::Bias;
  float value = 0.0f;
};

// "bias", "bias x std", "force", "ban".
QString routerEditKindName(rt::RouterEditKind kind);

class RouterEditList : public QTableWidget {
  Q_OBJECT
 public:
  static constexpr int kVisibleRows = 4;  // rows shown without scrolling

  explicit RouterEditList(QWidget* parent = nullptr);
  void setRows(const std::vector<RouterEditRow>& rows);
  // Row r's remove button (null past the rows).
  QToolButton* removeButton(int row) const;

 signals:
  void removeRequested(int row);
};

}  // namespace ll::ui
