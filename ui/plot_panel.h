// A QCustomPlot panel (per-token curve, e.g. entropy) with figure export (PNG / PDF / SVG).
#pragma once

#include <QList>
#include <QStringList>
#include <QWidget>

#include <vector>

class QCustomPlot;

namespace ll::ui {

class PlotPanel : public QWidget {
  Q_OBJECT
 public:
  explicit PlotPanel(QWidget* parent = nullptr);

  void setCurve(const std::vector<double>& values, const QStringList& tokens,
                const QString& yLabel);
  QCustomPlot* plot() const { return m_plot; }
  bool exportTo(const QString& path, QString* error = nullptr);
  // Token indices that carry a label on the x axis now: every token when they fit, else every
  // n-th so that rotated labels never overlap (recomputed when the plot is resized).
  QList<int> labelledTokens() const { return m_labelled; }
  // The least spacing in pixels between two labelled ticks.
  static constexpr int kMinLabelSpacing = 18;

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void applyTokenTicks();

  QCustomPlot* m_plot = nullptr;
  QStringList m_tokens;
  QList<int> m_labelled;
};

}  // namespace ll::ui
