// Scalar reference implementations of the non-trivial ops (RoPE, attention), kept apart from the
// backend class so each stays small and readable. Plain loops, double accumulation.
#pragma once

#include <cstdint>

#include "kernels/backend.h"

namespace ll::kern::ref {

// Angle multiplier of rotary pair i (theta_i / pos), llama3 scaling included.
void rope(float* x, const int32_t* positions, int n, int nHead, int headDim, const RopeParams& p);

// Throws std::invalid_argument when the shapes in a are inconsistent.
void checkAttnArgs(const AttnArgs& a);
// Probabilities of query row i of head h: probs[nKv] (masked and future keys exactly 0), by the
// rule of kernels/attn_rule.h. With sinks the row sums to 1 - *sinkProb (the sink's share).
void attnRowProbs(const AttnArgs& a, int h, int i, double* probs, double* sinkProb = nullptr);
void attention(const AttnArgs& a);
void attentionMap(const AttnArgs& a, int head, float* out);

}  // namespace ll::kern::ref
