// MoE routing on the host (router logits are tiny: [T, nExpert]): router interventions, softmax,
// top-k (ties to the lower expert index) and optional renormalisation. Pure functions, unit-tested.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/api/request.h"

namespace ll::rt {

struct RoutingResult {
  std::vector<float> probs;      // [n, E] softmax of the edited logits
  std::vector<int32_t> experts;  // [n, k] by descending probability
  std::vector<float> weights;    // [n, k]
};

// Applies the edits for `layer` to one token's logits z[E] in place (bias, then force, then ban).
// Throws std::invalid_argument naming the layer when no expert is left (every logit -inf): the
// pass stops there and the engine keeps only its reused prefix, as after a cancellation.
void applyRouterEdits(float* z, int nExpert, int layer, const std::vector<RouterEdit>& edits);

// logits [n, E] (already edited). renormalise: weights of the chosen k sum to 1. Throws
// std::invalid_argument for a token with no finite logit (no NaN weights).
RoutingResult route(const float* logits, int n, int nExpert, int k, bool renormalise);

}  // namespace ll::rt
