// Head-grid data computed in the worker from a Trace: every layer x head attention restricted to
// the last G queries and keys (the pass's own probabilities over all earlier keys, from
// rt::AttentionRows, then the [T-G, T) block kept). Session::attentionMap would build L*H full
// T x T maps.
#pragma once

#include "runtime/api/request.h"
#include "runtime/api/trace.h"

#include <memory>
#include <vector>

namespace ll::ui {

// A computed grid and what it was computed from, so the next keystroke can keep its rows.
struct HeadGridCache {
  std::shared_ptr<const rt::Trace> trace;
  rt::Interventions iv;
  int G = 0;
  std::vector<float> values;  // [nLayer, nHead, G, G]
};

// Rows [0, n) whose tokens and positions agree between two traces: under the same interventions
// their attention rows are equal (a row depends only on the tokens up to it).
int commonRows(const rt::Trace& a, const rt::Trace& b);

// [nLayer, nHead, G, G] row-major; masked cells 0. With prev (computed under the
// same interventions iv), query rows whose tokens and positions up to that row equal prev's are
// copied instead of recomputed: a row's probabilities depend only on the tokens up to it.
std::vector<float> headGridRows(const rt::Trace& tr, int G, const HeadGridCache* prev = nullptr,
                                const rt::Interventions& iv = {});

}  // namespace ll::ui
