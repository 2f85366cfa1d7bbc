// Head grid: all layers x heads attention maps as small multiples packed into one matrix (the
// texture atlas the heatmap core draws in one go), with NaN gaps between heads, and the hit
// test from an atlas cell back to (layer, head, query, key).
#pragma once

#include "visualizers/heatmap_types.h"

#include <optional>
#include <span>

namespace ll::vis {

struct HeadGridAtlas {
  HeatmapMatrix matrix;  // nLayer * (side + gap) - gap rows, nHead * (side + gap) - gap cols
  int nLayer = 0;
  int nHead = 0;
  int nTokens = 0;
  int side = 0;   // atlas cells per head side (<= nTokens: max-pooled when larger)
  int block = 1;  // tokens per atlas cell
  int gap = 1;

  struct Hit {
    int layer, head;
    int query, key;  // first token of the pooled block
  };
  std::optional<Hit> hitTest(double col, double row) const;
};

// attention: nLayer x nHead x nTokens x nTokens, row-major (query rows, key columns).
// Heads larger than maxSide are max-pooled to at most maxSide x maxSide so the atlas stays small
// (1024 heads of 4k tokens would otherwise be 64 GiB). Throws std::invalid_argument on a size
// mismatch or non-positive dimensions.
HeadGridAtlas buildHeadGridAtlas(std::span<const float> attention, int nLayer, int nHead,
                                 int nTokens, int maxSide = 64, int gap = 1);

}  // namespace ll::vis
