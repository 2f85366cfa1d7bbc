// Information flow by attention knockout (ALGORITHMS.md §10): block the edges from token group A
// (queries) to group B (keys) in a window of layers centred on l and report the relative change
// 100 (p_new - p_base) / p_base of the first answer token's probability.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
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

// The readout of a knockout the user set (the GUI's attention panel): the effect at its own layers
// and, with sweep, the same token groups knocked out in the window of `window` layers centred on
// each layer in turn (a curve over layers). Defaults follow §10.
struct KnockoutReadoutRequest {
  int window = 9;
  bool sweep = false;   // nLayer more passes
  int32_t answer = -1;  // < 0: the base run's argmax at the last token
  bool operator==(const KnockoutReadoutRequest&) const = default;
};
struct KnockoutReadout {
  KnockoutResult effect;          // at the knockout's own layers
  int window = 0;                 // of the sweep
  std::vector<double> sweep;      // [nLayer] relative change (%), empty without sweep
  std::vector<double> sweepPNew;  // [nLayer] p_new of the answer
  std::vector<std::pair<int, int>> sweepLayers;  // [nLayer] the window [begin, end) of each
};
// (passesDone, passesTotal) -> false to cancel (throws ll::rt::Cancelled).
using KnockoutProgress = std::function<bool(int, int)>;
// ids run on the Session's engine without publishing, under base (the run's other interventions;
// its knockout is ignored) with and without ko (its layers as given).
KnockoutReadout knockoutReadout(Session& s, const std::vector<int32_t>& ids,
                                const Interventions& base, const Knockout& ko,
                                const KnockoutReadoutRequest& req = {},
                                const KnockoutProgress& progress = {});

// The readout as JSON (the GUI's data export): layers, answer, p_base, p_new,
// relative_change_percent (as `layerlens-cli knockout`), and window, sweep, sweep_p_new,
// sweep_layers when swept.
nlohmann::json knockoutReadoutJson(const KnockoutReadout& r);

}  // namespace ll::rt::ana
