// The Expert contrast panel (ALGORITHMS.md §9, MoE models only): two prompt sets, the routing
// frequency difference Δ = task − neutral as a layer x expert heatmap (diverging, centred on 0,
// with a colour bar) with the experts Δ > τ marked, and one click to apply router edits on them
// (switch off, hard force, soft promotion) through the Routing panel's list of edits.
#pragma once

#include "ui/panel.h"

#include <vector>

class QCheckBox;
class QComboBox;
class QCPColorMap;
class QCPColorScale;
class QCPGraph;
class QCustomPlot;
class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QVBoxLayout;

namespace ll::ui {

class ExpertContrastPanel : public Panel {
  Q_OBJECT
 public:
  explicit ExpertContrastPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("contrast"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void modelChanged(const ModelInfo& info) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  // Session restore: the request into the controls (the sets as committed), no settingsChanged.
  void applyState(const rt::ana::ExpertContrastRequest& request);

  QPlainTextEdit* taskEdit() const { return m_task; }
  QPlainTextEdit* neutralEdit() const { return m_neutral; }
  QDoubleSpinBox* tauBox() const { return m_tau; }
  QComboBox* layersBox() const { return m_layers; }
  QPushButton* computeButton() const { return m_compute; }
  QPushButton* switchOffButton() const { return m_off; }
  QPushButton* hardForceButton() const { return m_force; }
  QPushButton* promoteButton() const { return m_promote; }
  QCheckBox* middleOnlyBox() const { return m_middleOnly; }
  QDoubleSpinBox* lambdaBox() const { return m_lambda; }
  QCustomPlot* plot() const { return m_plot; }
  QCPColorMap* map() const { return m_map; }
  QString status() const;
  QString warning() const;

 signals:
  // A one-click action: these edits go into the Routing panel's list (MainWindow connects it).
  void editsRequested(const std::vector<rt::RouterEdit>& edits, const QString& what);

 private:
  // Construction in parts.
  void buildInputs(QVBoxLayout* v);
  void buildPlot(QVBoxLayout* v);
  void buildActions(QVBoxLayout* v);
  void connectControls();
  void apply(rt::ana::ContrastAction action);
  void restyle();
  void changeEvent(QEvent* e) override;
  void updateButtons();
  void updateCompute();

  QPlainTextEdit* m_task = nullptr;
  QPlainTextEdit* m_neutral = nullptr;
  QDoubleSpinBox* m_tau = nullptr;
  QComboBox* m_layers = nullptr;
  QPushButton* m_compute = nullptr;
  QLabel* m_status = nullptr;
  QLabel* m_summary = nullptr;
  QCustomPlot* m_plot = nullptr;
  QCPColorMap* m_map = nullptr;
  QCPColorScale* m_scale = nullptr;
  QCPGraph* m_marks = nullptr;
  QPushButton* m_off = nullptr;
  QPushButton* m_force = nullptr;
  QPushButton* m_promote = nullptr;
  QCheckBox* m_middleOnly = nullptr;
  QDoubleSpinBox* m_lambda = nullptr;
  QLabel* m_warning = nullptr;
  // The sets as the last Compute committed them (typing alone runs nothing).
  std::vector<std::string> m_taskSet, m_neutralSet;
  int m_nExpert = 0;
  QString m_modelName;
};

}  // namespace ll::ui
