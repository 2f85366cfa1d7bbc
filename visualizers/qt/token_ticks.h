// Token names under a QCustomPlot axis (per-token plots: output entropy, the query row, token
// selection scores), thinned to the axis's width so rotated labels never run into each other, and
// thinned again when the plot is resized.
#pragma once

#include <QList>
#include <QObject>
#include <QStringList>

class QCustomPlot;
class QCPAxis;

namespace ll::vis {

class TokenTicks : public QObject {
  Q_OBJECT
 public:
  // The least spacing in pixels between two labelled ticks.
  static constexpr int kMinLabelSpacing = 18;

  // Follows the plot's size (the object is the plot's child).
  TokenTicks(QCustomPlot* plot, QCPAxis* axis, double rotation = 45.0);

  // One label per token (display text); empty: a plain numeric axis.
  void setTokens(const QStringList& tokens);
  // Token indices labelled now: every token when they fit, else every 2nd, 5th, 10th...; thinned
  // labels carry their index so they can be found in the prompt.
  const QList<int>& labelled() const { return m_labelled; }

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void apply();

  QCustomPlot* m_plot;
  QCPAxis* m_axis;
  double m_rotation;
  QStringList m_tokens;
  QList<int> m_labelled;
};

}  // namespace ll::vis
