// The Logit lens panel: the logit-lens grid of the shown snapshot (rows = embeddings and the
// residual after each block, optionally after each attention; columns = a window of prompt
// tokens), cells coloured by top-1 probability or entropy and labelled with the top-1 token;
// a colour bar beside it shows the colormap and range the cells use; hover lists the top-5, a
// click selects the layer and token everyone follows.
#pragma once

#include "ui/panel.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QSpinBox;

namespace ll::vis {
class ColorBar;
class LensGridView;
}  // namespace ll::vis

namespace ll::ui {

class LensPanel : public Panel {
  Q_OBJECT
 public:
  explicit LensPanel(SelectionModel* selection, QWidget* parent = nullptr);
  QString panelId() const override { return QStringLiteral("lens"); }
  void showSnapshot(const SnapshotPtr& snapshot) override;
  void clearData() override;
  void applyTo(ViewState& state) const override;
  // A session's (or demo's) lens settings, as the controls' values.
  void applyState(const LensGridSettings& settings);

  vis::LensGridView* view() const { return m_view; }
  vis::ColorBar* colorBar() const { return m_colorBar; }
  QComboBox* valueBox() const { return m_value; }
  QCheckBox* finalNormBox() const { return m_finalNorm; }
  QCheckBox* midBox() const { return m_mid; }
  QSpinBox* firstBox() const { return m_first; }
  QLabel* rangeLabel() const { return m_range; }
  QLabel* hoverLabel() const { return m_hover; }
  // The top-5 of a grid cell as plain text ("" outside the grid); hoverHtml escapes it for a
  // tooltip (token text is literal: "<s>" shows as "<s>").
  QString cellText(int row, int col) const;
  QString hoverHtml(int row, int col) const;

 signals:
  // The cell under the cursor as one line (for the status bar); "" when the cursor left.
  void hoverText(const QString& text);

 private:
  void hovered(int row, int col, QPoint globalPos);
  void clicked(int row, int col);
  void updateMarkers();
  // The colour bar shows the scale the view colours with (its data's colormap and lo..hi).
  void syncColorBar();

  vis::LensGridView* m_view = nullptr;
  vis::ColorBar* m_colorBar = nullptr;
  QComboBox* m_value = nullptr;
  QCheckBox* m_finalNorm = nullptr;
  QCheckBox* m_mid = nullptr;
  QSpinBox* m_first = nullptr;
  QLabel* m_range = nullptr;
  QLabel* m_hover = nullptr;
};

}  // namespace ll::ui
