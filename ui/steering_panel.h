// The steering panel: build a vector (concept word minus baseline words, or two prompt lists),
// choose layer, alpha and start position, read alpha ||v|| / mean ||h||, and compare the live
// greedy continuation with and without the vector side by side.
#pragma once

#include "ui/panel.h"

#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSlider;
class QSpinBox;

namespace ll::ui {

class SteeringPanel : public Panel {
  Q_OBJECT
 public:
  explicit SteeringPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("steering"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void modelChanged(const ModelInfo& info) override;
  void applyTo(ViewState& state) const override;

  // Session restore (after modelChanged): every setting into the controls; a Saved source keeps
  // the session's vector and shows as "vector from the session". Emits no settingsChanged.
  void applyState(const SteeringSettings& settings);
  SteeringSettings state() const;

  QCheckBox* enabledBox() const { return m_enabled; }
  QLineEdit* conceptEdit() const { return m_concept; }
  QLineEdit* baselineEdit() const { return m_baselines; }
  QSlider* alphaSlider() const { return m_alpha; }
  QString steeredText() const;
  QString plainText() const;
  QString readout() const;

 private:
  void updateLabels();

  QCheckBox* m_enabled = nullptr;
  QComboBox* m_source = nullptr;
  QLineEdit* m_concept = nullptr;
  QLineEdit* m_baselines = nullptr;
  QPlainTextEdit* m_positive = nullptr;
  QPlainTextEdit* m_negative = nullptr;
  QSlider* m_layer = nullptr;
  QSlider* m_alpha = nullptr;
  QSpinBox* m_from = nullptr;
  QLabel* m_layerLabel = nullptr;
  QLabel* m_alphaLabel = nullptr;
  QLabel* m_readout = nullptr;
  QPlainTextEdit* m_plain = nullptr;
  QPlainTextEdit* m_steered = nullptr;
  std::vector<float> m_saved;  // SteerSource::Saved
};

}  // namespace ll::ui
