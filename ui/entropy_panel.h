// The entropy panel (QCustomPlot): logit-lens entropy per layer for the selected token, output
// entropy per token, and the rank of a chosen token across layers. Clicking a point selects that
// layer (lens, rank) or token (output entropy).
#pragma once

#include "ui/panel.h"

class QCustomPlot;
class QLabel;
class QSpinBox;

namespace ll::ui {

class PlotPanel;

class EntropyPanel : public Panel {
  Q_OBJECT
 public:
  explicit EntropyPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("entropy"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void modelChanged(const ModelInfo& info) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  QList<QWidget*> figureWidgets() const override;

  QCustomPlot* lensPlot() const { return m_lens; }
  PlotPanel* outputPlot() const { return m_output; }
  QCustomPlot* rankPlot() const { return m_rank; }
  QSpinBox* rankTargetBox() const { return m_target; }
  void setRankTarget(int id);

 private:
  QCustomPlot* m_lens = nullptr;
  PlotPanel* m_output = nullptr;
  QCustomPlot* m_rank = nullptr;
  QSpinBox* m_target = nullptr;
  QLabel* m_targetLabel = nullptr;
};

}  // namespace ll::ui
