// The one shared selection (layer, head, token) every panel follows: selecting anywhere updates all
// panels through changed(). Head -1 means the mean over heads, -2 the sum.
#pragma once

#include <QObject>

namespace ll::ui {

class SelectionModel : public QObject {
  Q_OBJECT
 public:
  static constexpr int kHeadMean = -1;
  static constexpr int kHeadSum = -2;

  explicit SelectionModel(QObject* parent = nullptr) : QObject(parent) {}

  int layer() const { return m_layer; }
  int head() const { return m_head; }
  // -1: the last token of the prompt.
  int token() const { return m_token; }
  int nLayer() const { return m_nLayer; }
  int nHead() const { return m_nHead; }
  int nTokens() const { return m_nTokens; }
  // The token index in [0, nTokens) the panels show (the last one when none is chosen).
  int resolvedToken() const;

  void setLimits(int nLayer, int nHead, int nTokens);
  void setLayer(int layer);
  void setHead(int head);
  void setToken(int token);
  void stepLayer(int delta);
  // Cycles sum, mean, 0 .. nHead-1.
  void stepHead(int delta);

 signals:
  void changed();

 private:
  int m_layer = 0;
  int m_head = kHeadMean;
  int m_token = -1;
  int m_nLayer = 0;
  int m_nHead = 0;
  int m_nTokens = 0;
};

}  // namespace ll::ui
