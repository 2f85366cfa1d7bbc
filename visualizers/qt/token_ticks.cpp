#include "visualizers/qt/token_ticks.h"

#include "visualizers/qt/token_axis.h"

#include <qcustomplot.h>
#include <QEvent>

#include <algorithm>

namespace ll::vis {

TokenTicks::TokenTicks(QCustomPlot* plot, QCPAxis* axis, double rotation)
    : QObject(plot), m_plot(plot), m_axis(axis), m_rotation(rotation) {
  plot->installEventFilter(this);
}

void TokenTicks::setTokens(const QStringList& tokens) {
  m_tokens = tokens;
  if (m_tokens.isEmpty()) {
    m_labelled.clear();
    m_axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    m_axis->setTickLabelRotation(0);
    return;
  }
  apply();
}

bool TokenTicks::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_plot && event->type() == QEvent::Resize && !m_tokens.isEmpty()) {
    // The axis rect takes its new size in the next replot: lay out first, then thin.
    QMetaObject::invokeMethod(
        this,
        [this] {
          if (m_tokens.isEmpty()) return;
          m_plot->replot(QCustomPlot::rpImmediateRefresh);
          apply();
          m_plot->replot();
        },
        Qt::QueuedConnection);
  }
  return QObject::eventFilter(watched, event);
}

void TokenTicks::apply() {
  // Before the first layout the axis rect has no size yet; the widget's is close enough.
  const int n = static_cast<int>(m_tokens.size());
  const bool horizontal = m_axis->orientation() == Qt::Horizontal;
  const int rect = horizontal ? m_axis->axisRect()->width() : m_axis->axisRect()->height();
  const int widget = (horizontal ? m_plot->width() : m_plot->height()) - 60;
  const int length = std::max(1, rect > 1 ? rect : widget);
  const int stride = TokenAxis::labelStride(double(length) / std::max(1, n), kMinLabelSpacing);
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  m_labelled.clear();
  for (int i = 0; i < n; i += stride) {
    ticker->addTick(i, stride == 1 ? m_tokens[i] : QString::number(i) + ' ' + m_tokens[i]);
    m_labelled << i;
  }
  m_axis->setTicker(ticker);
  m_axis->setTickLabelRotation(m_rotation);
}

}  // namespace ll::vis
