// A QCustomPlot panel (per-token curve, e.g. entropy) with figure export (PNG / PDF / SVG).
#pragma once

#include <QList>
#include <QStringList>
#include <QWidget>

#include <vector>

class QCustomPlot;

namespace ll::vis {
class TokenTicks;
}

namespace ll::ui {

class PlotPanel : public QWidget {
  Q_OBJECT
 public:
  explicit PlotPanel(QWidget* parent = nullptr);

  void setCurve(const std::vector<double>& values, const QStringList& tokens,
                const QString& yLabel);
  QCustomPlot* plot() const { return m_plot; }
  bool exportTo(const QString& path, QString* error = nullptr);
  // Token indices labelled on the x axis now (thinned to the plot's width).
  QList<int> labelledTokens() const;

 private:
  QCustomPlot* m_plot = nullptr;
  vis::TokenTicks* m_ticks = nullptr;
};

}  // namespace ll::ui
