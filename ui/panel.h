// Base of the dockable panels: each shows Snapshots, contributes its settings to the ViewState the
// controller recomputes, and hands its figures (plots, heatmaps) to whoever exports them.
#pragma once

#include "ui/view_state.h"

#include <QList>
#include <QWidget>

namespace ll::ui {

class SelectionModel;

class Panel : public QWidget {
  Q_OBJECT
 public:
  Panel(SelectionModel* selection, QWidget* parent = nullptr)
      : QWidget(parent), m_selection(selection) {}

  // Stable id, used for the dock's objectName (saved layouts) and by exporters.
  virtual QString panelId() const = 0;
  virtual void showSnapshot(const SnapshotPtr& snapshot) = 0;
  virtual void modelChanged(const ModelInfo& info) { (void)info; }
  // Drops everything the panel shows of a run (a new model replaces the one it came from); the
  // next snapshot fills it again. Overrides clear their views and call this.
  virtual void clearData() { m_snapshot.reset(); }
  // Adds this panel's settings to the request (selection method, routing edits, steering...).
  virtual void applyTo(ViewState& state) const { (void)state; }
  // Export seam: the widgets (QCustomPlot, heatmap views) that make this panel's figures.
  virtual QList<QWidget*> figureWidgets() const { return {}; }
  // The snapshot the panel currently shows (null before the first result).
  const SnapshotPtr& snapshot() const { return m_snapshot; }

 signals:
  // The panel's settings changed: the window asks for a recomputation.
  void settingsChanged();

 protected:
  SelectionModel* m_selection;
  SnapshotPtr m_snapshot;
};

}  // namespace ll::ui
