#include "visualizers/token_overlay.h"

#include <algorithm>
#include <cmath>

namespace ll::vis {

int TokenOverlay::keptCount() const {
  return static_cast<int>(std::count_if(items.begin(), items.end(),
                                        [](const auto& i) { return i.state == TokenState::Kept; }));
}

int TokenOverlay::droppedCount() const {
  return static_cast<int>(std::count_if(
      items.begin(), items.end(), [](const auto& i) { return i.state == TokenState::Dropped; }));
}

void TokenOverlay::scoreRange(float* lo, float* hi) const {
  float a = INFINITY, b = -INFINITY;
  for (const auto& i : items)
    if (std::isfinite(i.score)) {
      a = std::min(a, i.score);
      b = std::max(b, i.score);
    }
  if (!(a < b)) {
    a = std::isfinite(a) ? a : 0.0f;
    b = a + 1.0f;
  }
  *lo = a;
  *hi = b;
}

}  // namespace ll::vis
