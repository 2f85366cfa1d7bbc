// Token overlay data for the prompt view: per token its text, a score and whether a token
// selection kept or dropped it, plus the legend that explains the colours. Plain data.
#pragma once

#include <string>
#include <vector>

namespace ll::vis {

enum class TokenState { Neutral, Kept, Dropped };

struct TokenOverlayItem {
  std::string text;  // UTF-8, as shown (may contain spaces / newlines)
  float score = 0.0f;
  TokenState state = TokenState::Neutral;
};

struct TokenOverlay {
  std::vector<TokenOverlayItem> items;
  std::string scoreName = "score";  // legend label, e.g. "attention received"

  int keptCount() const;
  int droppedCount() const;
  // Score range over items (0..1 when empty or constant).
  void scoreRange(float* lo, float* hi) const;
};

}  // namespace ll::vis
