// The Teacher panel (ALGORITHMS.md §7): a second model on the same vocabulary run over the
// prompt's tokens; per token the student's normalised entropy, JSD(p_student || p_teacher) in bits
// and the entropy x divergence quadrant (low entropy, high divergence = overconfident), as a
// scatter with the two thresholds and a table. Clicking a row selects that token. On a remote
// session the teacher is a model on the same server, chosen from its list.
#pragma once

#include "ui/panel.h"
#include "ui/remote_job.h"

#include <optional>

class QCustomPlot;
class QLabel;
class QPushButton;
class QTableWidget;

namespace ll::ui {

class TeacherPanel : public Panel {
  Q_OBJECT
 public:
  // Scatter graphs, in creation order: the tokens by quadrant group.
  enum Graph { kAgreeOrUnsure = 0, kOverconfident = 1 };
  // Table columns.
  enum Column { kToken = 0, kEntropy = 1, kJsd = 2, kQuadrant = 3 };

  explicit TeacherPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("teacher"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  // The teacher model file ("" = none); emits settingsChanged when it changes.
  void setTeacherPath(const QString& path);
  QString teacherPath() const { return m_path; }
  // File dialog (on a server: the server's models, server_models.h), then setTeacherPath (File >
  // Compare with teacher model... and the button).
  void chooseTeacher();
  // Where the student runs: a server (the teacher is then a path in its --models folder) or this
  // process (nullopt). A teacher chosen for another place is dropped, so a local file is never
  // sent to a server nor a server path opened here; the window calls it when a model has loaded.
  void setServer(const std::optional<RemoteTarget>& server);
  const std::optional<RemoteTarget>& server() const { return m_server; }
  // Session restore: the settings into the panel, without settingsChanged.
  void applyState(const TeacherSettings& settings);

  QCustomPlot* plot() const { return m_plot; }
  QTableWidget* table() const { return m_table; }
  QString status() const;

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void updateName();

  QString m_path;
  std::optional<RemoteTarget> m_server;
  QLabel* m_name = nullptr;
  QPushButton* m_choose = nullptr;
  QPushButton* m_clear = nullptr;
  QLabel* m_status = nullptr;
  QCustomPlot* m_plot = nullptr;
  QTableWidget* m_table = nullptr;
};

}  // namespace ll::ui
