// The token-selection panel: method (GemFilter, SnapKV, H2O, PromptDistill), layer and k sliders,
// the method's other parameters (rows generated from rt::ana::selectionIntParams, with the request
// type's defaults and help), PromptDistill's stage editor, the overlap between methods, the
// per-token scores and the answer from the kept tokens beside the full answer. The kept set is
// drawn on the prompt (PromptPanel).
#pragma once

#include "ui/panel.h"

class QCheckBox;
class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSlider;
class QSpinBox;
class QTableWidget;
class QVBoxLayout;

namespace ll::vis {
class ScoreStrip;
}

namespace ll::ui {

class SelectionPanel : public Panel {
  Q_OBJECT
 public:
  explicit SelectionPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("selection"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void modelChanged(const ModelInfo& info) override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;
  void clearData() override;

  // Session restore: method, layer (-1: follow the selected layer), k and stages into the
  // controls (after modelChanged, which sets the ranges). Emits no settingsChanged.
  void applyState(const SelectionSettings& settings);
  SelectionSettings state() const;

  QComboBox* methodBox() const { return m_method; }
  QSlider* kSlider() const { return m_k; }
  QSlider* layerSlider() const { return m_layer; }
  QCheckBox* followBox() const { return m_follow; }
  QLineEdit* stagesEdit() const { return m_stages; }
  // The spin box of a request parameter ("window", "recent", "kernel", "kv-trim"); null if none.
  QSpinBox* paramBox(const QString& name) const;
  QString answerFull() const;
  QString answerKept() const;
  // Where the shown method is limited by the model (e.g. a sliding-window layer); empty if nowhere.
  QString warningText() const;
  // Why the shown method keeps more than k (e.g. SnapKV's window and union over heads); "" if not.
  QString reasonText() const;
  // The note shown after k was clamped to the prompt's length; "" when none is shown.
  QString kNoteText() const;

 private:
  void updateLabels();
  // One form row per request parameter without a control of its own, shown for the methods that
  // read it; its minimum stands for kAuto where the parameter has an automatic rule.
  void addParamRows(QFormLayout* form);
  // The k note, the summary, why more than k are kept, the model's limits (in that order).
  void addResultLabels(QVBoxLayout* v);
  // k can be at most the prompt's token count: the slider's maximum follows it, and a larger k
  // (an old value or a session's) is clamped with a note saying so.
  void limitK(int nTokens);

  QComboBox* m_method = nullptr;
  QSlider* m_layer = nullptr;
  QCheckBox* m_follow = nullptr;
  QSlider* m_k = nullptr;
  QLabel* m_layerLabel = nullptr;
  QLabel* m_kLabel = nullptr;
  QLineEdit* m_stages = nullptr;
  struct ParamRow {
    const rt::ana::SelectionIntParam* param;
    QSpinBox* box;
  };
  std::vector<ParamRow> m_params;
  QFormLayout* m_form = nullptr;
  QCheckBox* m_maxPool = nullptr;
  QLabel* m_kNote = nullptr;
  QLabel* m_summary = nullptr;
  QLabel* m_reason = nullptr;
  int m_promptTokens = 0;  // tokens of the last snapshot's prompt (0: none yet)
  int m_kCeiling = 1024;   // k's bound before any prompt: the model's context, at most 1024
  bool m_clampingK = false;
  QLabel* m_warnings = nullptr;
  QTableWidget* m_overlap = nullptr;
  vis::ScoreStrip* m_strip = nullptr;
  QPlainTextEdit* m_full = nullptr;
  QPlainTextEdit* m_kept = nullptr;
};

}  // namespace ll::ui
