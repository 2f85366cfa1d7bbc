#include "visualizers/routing.h"

#include <stdexcept>
#include <string>

namespace ll::vis {

void RoutingScores::validate() const {
  if (nLayer <= 0 || nTokens <= 0 || nExpert <= 0 ||
      scores.size() != static_cast<size_t>(nLayer) * nTokens * nExpert)
    throw std::invalid_argument("routing: " + std::to_string(scores.size()) +
                                " scores do not make " + std::to_string(nLayer) + " layers x " +
                                std::to_string(nTokens) + " tokens x " + std::to_string(nExpert) +
                                " experts");
}

HeatmapMatrix layerByExpert(const RoutingScores& r, int token) {
  r.validate();
  if (token < 0 || token >= r.nTokens)
    throw std::out_of_range("routing: token " + std::to_string(token) + " out of range");
  HeatmapMatrix m{r.nLayer, r.nExpert, {}};
  m.values.reserve(static_cast<size_t>(r.nLayer) * r.nExpert);
  for (int l = 0; l < r.nLayer; ++l)
    for (int e = 0; e < r.nExpert; ++e) m.values.push_back(r.at(l, token, e));
  return m;
}

HeatmapMatrix tokenByExpert(const RoutingScores& r, int layer) {
  r.validate();
  if (layer < 0 || layer >= r.nLayer)
    throw std::out_of_range("routing: layer " + std::to_string(layer) + " out of range");
  HeatmapMatrix m{r.nTokens, r.nExpert, {}};
  m.values.assign(r.scores.begin() + static_cast<size_t>(layer) * r.nTokens * r.nExpert,
                  r.scores.begin() + static_cast<size_t>(layer + 1) * r.nTokens * r.nExpert);
  return m;
}

}  // namespace ll::vis
