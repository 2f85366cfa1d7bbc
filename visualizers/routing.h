// Mixture-of-Experts routing as heatmap matrices: from router scores laid out
// [layer][token][expert], the layer x expert matrix of one token or the token x expert matrix
// of one layer. Plain data in, plain data out.
#pragma once

#include "visualizers/heatmap_types.h"

#include <span>

namespace ll::vis {

struct RoutingScores {
  int nLayer = 0;
  int nTokens = 0;
  int nExpert = 0;
  std::span<const float> scores;  // nLayer * nTokens * nExpert

  void validate() const;  // throws std::invalid_argument on a size mismatch
  float at(int layer, int token, int expert) const {
    return scores[(static_cast<size_t>(layer) * nTokens + token) * nExpert + expert];
  }
};

HeatmapMatrix layerByExpert(const RoutingScores& r, int token);
HeatmapMatrix tokenByExpert(const RoutingScores& r, int layer);

}  // namespace ll::vis
