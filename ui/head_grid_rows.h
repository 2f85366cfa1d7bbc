// Head-grid data computed in the worker from a Trace: every layer x head attention restricted to
// the last G queries and keys (softmax over all earlier keys, then the [T-G, T) block kept).
// runtime/analysis has no all-heads map, and Session::attentionMap would build L*H full T x T maps.
#pragma once

#include "runtime/api/trace.h"

#include <vector>

namespace ll::ui {

// [nLayer, nHead, G, G] row-major; causal zeros above the diagonal.
std::vector<float> headGridRows(const rt::Trace& tr, int G);

}  // namespace ll::ui
