#include "ui/demo_data.h"

#include <QRegularExpression>

#include <algorithm>
#include <cmath>
#include <functional>

namespace ll::ui {

QStringList demoTokens(const QString& prompt) {
  QStringList words = prompt.split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts);
  if (words.isEmpty()) words << QStringLiteral("<empty>");
  return words;
}

std::shared_ptr<const vis::HeatmapMatrix> demoAttention(int n) {
  auto m = std::make_shared<vis::HeatmapMatrix>();
  n = std::max(1, n);
  m->rows = m->cols = n;
  m->values.assign(static_cast<size_t>(n) * n, 0.0f);
  for (int i = 0; i < n; ++i) {
    double sum = 0.0;
    for (int j = 0; j <= i; ++j) {
      double w = std::exp(-(i - j) / 2.5) + (j == 0 ? 0.6 : 0.0);
      m->values[static_cast<size_t>(i) * n + j] = static_cast<float>(w);
      sum += w;
    }
    for (int j = 0; j <= i; ++j)
      m->values[static_cast<size_t>(i) * n + j] /= static_cast<float>(sum);
  }
  return m;
}

std::vector<double> rowEntropy(const vis::HeatmapMatrix& p) {
  std::vector<double> h(p.rows, 0.0);
  for (int i = 0; i < p.rows; ++i)
    for (int j = 0; j < p.cols; ++j) {
      const double v = p.at(i, j);
      if (v > 0) h[i] -= v * std::log(v);
    }
  return h;
}

vis::TokenOverlay demoOverlay(const vis::HeatmapMatrix& p, const QStringList& tokens) {
  vis::TokenOverlay o;
  o.scoreName = "attention received (demo)";
  const int n = std::min<int>(p.cols, static_cast<int>(tokens.size()));
  std::vector<float> received(n, 0.0f);
  for (int q = 0; q < p.rows; ++q)
    for (int k = 0; k < n && k < q; ++k) received[k] += p.at(q, k);
  std::vector<float> sorted = received;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  const float threshold = n > 0 ? sorted[std::max(0, (n + 1) / 2 - 1)] : 0.0f;
  for (int i = 0; i < n; ++i) {
    const bool kept = i == 0 || received[i] >= threshold;
    o.items.push_back({tokens[i].toStdString(), received[i],
                       kept ? vis::TokenState::Kept : vis::TokenState::Dropped});
  }
  return o;
}

}  // namespace ll::ui
