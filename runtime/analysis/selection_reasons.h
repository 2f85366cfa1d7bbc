// Why a token-selection method (token_selection.h, selection_runs.h) keeps more tokens than the k
// asked for, as one sentence built from the parameters it ran with and its result, for the GUI
// beside the kept set and for the CLI / exports. Each returns "" when the method kept <= k.
#pragma once

#include <string>
#include <vector>

#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/token_selection.h"

namespace ll::rt::ana {

// SnapKV run on a T-token prompt with `capacity` and observation `window`: per head the window
// plus that head's top (capacity - window) earlier tokens (every token when T <= capacity); the
// kept set is the union over r.keptPerHead.
std::string snapKvKeepReason(const Selection& r, int k, int T, int capacity, int window);

// H2O with `heavy` heavy hitters and `recent` recent tokens per head; the kept set is the union
// over r.keptPerHead.
std::string h2oKeepReason(const Selection& r, int k, int T, int heavy, int recent);

// PromptDistill stages (each keeps its top k among the candidates before the last prompt token
// plus the tokens from the last one on) and their survivors keptPerStage (the last entry is the
// kept set).
std::string promptDistillKeepReason(const std::vector<DistillStage>& stages,
                                    const std::vector<std::vector<int>>& keptPerStage, int k);

}  // namespace ll::rt::ana
