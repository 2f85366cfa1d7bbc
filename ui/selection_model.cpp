#include "ui/selection_model.h"

#include <algorithm>

namespace ll::ui {

int SelectionModel::resolvedToken() const {
  if (m_nTokens <= 0) return 0;
  if (m_token < 0 || m_token >= m_nTokens) return m_nTokens - 1;
  return m_token;
}

void SelectionModel::setLimits(int nLayer, int nHead, int nTokens) {
  const int layer = std::clamp(m_layer, 0, std::max(0, nLayer - 1));
  const int head = m_head >= nHead ? kHeadMean : m_head;
  const int token = m_token >= nTokens ? -1 : m_token;
  const bool same = nLayer == m_nLayer && nHead == m_nHead && nTokens == m_nTokens &&
                    layer == m_layer && head == m_head && token == m_token;
  m_nLayer = nLayer;
  m_nHead = nHead;
  m_nTokens = nTokens;
  m_layer = layer;
  m_head = head;
  m_token = token;
  if (!same) emit changed();
}

void SelectionModel::setLayer(int layer) {
  layer = std::clamp(layer, 0, std::max(0, m_nLayer - 1));
  if (layer == m_layer) return;
  m_layer = layer;
  emit changed();
}

void SelectionModel::setHead(int head) {
  head = std::clamp(head, kHeadSum, std::max(kHeadMean, m_nHead - 1));
  if (head == m_head) return;
  m_head = head;
  emit changed();
}

void SelectionModel::setToken(int token) {
  if (token >= m_nTokens) token = -1;
  if (token < -1) token = -1;
  if (token == m_token) return;
  m_token = token;
  emit changed();
}

void SelectionModel::stepLayer(int delta) {
  setLayer(m_layer + delta);
}

void SelectionModel::stepHead(int delta) {
  // Positions: 0 = sum, 1 = mean, 2.. = heads.
  const int n = m_nHead + 2;
  int pos = m_head + 2;
  pos = ((pos + delta) % n + n) % n;
  setHead(pos - 2);
}

}  // namespace ll::ui
