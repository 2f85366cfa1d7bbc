// The test heatmap shown before a model is loaded: a synthetic causal attention pattern
// (attention sink on the first token plus a recency decay) over whitespace-split prompt words,
// and its per-query entropy for the plot. Clearly synthetic; replaced by real captures later.
#pragma once

#include "visualizers/heatmap_types.h"
#include "visualizers/token_overlay.h"

#include <QStringList>

#include <memory>
#include <vector>

namespace ll::ui {

QStringList demoTokens(const QString& prompt);
std::shared_ptr<const vis::HeatmapMatrix> demoAttention(int nTokens);
std::vector<double> rowEntropy(const vis::HeatmapMatrix& probs);  // nats, over each row
// Token overlay for the demo: score = attention each token receives from the tokens after it,
// kept = the top half by score (the first token always).
vis::TokenOverlay demoOverlay(const vis::HeatmapMatrix& probs, const QStringList& tokens);

}  // namespace ll::ui
