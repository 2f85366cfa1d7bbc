// Information flow by attention knockout (ALGORITHMS.md §10): block the edges from token group A
// (queries) to group B (keys) in a window of layers centred on l and report the relative change
// 100 (p_new - p_base) / p_base of the first answer token's probability.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/api/request.h"

namespace ll::rt {
class Session;
}

namespace ll::rt::ana {

// Layers [l - w/2, l - w/2 + w) clipped to [0, nLayer).
std::pair<int, int> knockoutWindow(int layer, int window, int nLayer);

// "3", "2-5", "last", "all-but-last", "0,4,7-9" -> sorted unique indices in [0, T).
std::vector<int> parseSpan(const std::string& spec, int T);

struct KnockoutResult {
  int layerBegin = 0, layerEnd = 0;
  int32_t answer = -1;  // the first answer token (the unablated greedy token unless given)
  double pBase = 0.0, pNew = 0.0;
  double relativeChange = 0.0;  // percent
};
// Runs the Session's prompt with and without the knockout. answer < 0: the base run's argmax.
KnockoutResult attentionKnockout(Session& s, const std::vector<int>& from,
                                 const std::vector<int>& to, int layer, int window = 9,
                                 int32_t answer = -1);

}  // namespace ll::rt::ana
