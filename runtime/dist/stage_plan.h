// How a model's layers split into contiguous pipeline stages, one per rank.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace ll::rt::dist {

// Layers [first, last) of one rank.
struct StageRange {
  int first = 0, last = 0;
};

// Balanced by layer count: stage r gets layers [r * L / N, (r + 1) * L / N), so stage sizes differ
// by at most one (the embeddings ride with stage 0, the LM head with the last stage, which on the
// models here weigh about one layer each).
inline std::vector<StageRange> splitLayers(int nLayer, int nRanks) {
  if (nRanks < 1 || nRanks > nLayer)
    throw std::invalid_argument("cannot split " + std::to_string(nLayer) + " layers over " +
                                std::to_string(nRanks) + " ranks (each rank needs a layer)");
  std::vector<StageRange> r(static_cast<size_t>(nRanks));
  for (int i = 0; i < nRanks; ++i) r[size_t(i)] = {i * nLayer / nRanks, (i + 1) * nLayer / nRanks};
  return r;
}

}  // namespace ll::rt::dist
