#include "ui/demo_data.h"

#include <QRegularExpression>

#include <cmath>

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

}  // namespace ll::ui
