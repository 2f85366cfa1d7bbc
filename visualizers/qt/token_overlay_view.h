// The prompt with a token overlay: tokens drawn as chips that wrap like text, tinted by score
// (viridis), kept tokens outlined, dropped tokens greyed and struck through, with a legend.
#pragma once

#include "visualizers/token_overlay.h"

#include <QRect>
#include <QVector>
#include <QWidget>

namespace ll::vis {

class TokenOverlayView : public QWidget {
  Q_OBJECT
 public:
  explicit TokenOverlayView(QWidget* parent = nullptr);

  void setOverlay(const TokenOverlay& overlay);
  const TokenOverlay& overlay() const { return m_overlay; }
  int tokenAt(QPoint pos) const;  // -1 when none
  QRect tokenRect(int index) const;
  QSize sizeHint() const override;
  bool hasHeightForWidth() const override { return true; }
  int heightForWidth(int width) const override;

 signals:
  void tokenClicked(int index);

 protected:
  void paintEvent(QPaintEvent* e) override;
  void resizeEvent(QResizeEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;

 private:
  int layout(int width, QVector<QRect>* rects) const;  // returns the height used
  QString label(int i) const;

  TokenOverlay m_overlay;
  QVector<QRect> m_rects;
};

}  // namespace ll::vis
