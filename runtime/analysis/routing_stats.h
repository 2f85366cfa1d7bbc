// MoE routing statistics (ALGORITHMS.md §9) from a trace: layer x expert weights per token, token x
// expert weights per layer, expert load, experts per token, the JSD between two prompts' mean
// routing per layer; the Δ/τ expert picker and the router interventions (soft promotion λ·std(z),
// hard force, switch-off) expressed as the engine's RouterEdits.
#pragma once

#include <utility>
#include <vector>

#include "runtime/api/request.h"
#include "runtime/api/trace.h"

namespace ll::rt::ana {

// Layers of the trace that route (MoE layers).
std::vector<int> moeLayers(const Trace& tr);
// [T, E] weights the model applies per token (after top-k and, where the model does it,
// renormalisation); 0 for experts not chosen. Empty for a dense layer.
std::vector<float> tokenExpertMatrix(const Trace& tr, int layer);
// [nLayer, E] for token t (dense layers: zero rows).
std::vector<float> layerExpertMatrix(const Trace& tr, int t);
// [nLayer, E] fraction of tokens that chose each expert (sums to k per MoE layer).
std::vector<float> expertLoad(const Trace& tr);
// [nLayer, E] mean over tokens of the routing weights, each row normalised to sum 1 (the
// sequence's routing distribution; zero rows for dense layers).
std::vector<float> meanRouting(const Trace& tr);
// [nLayer, T] smallest number of experts whose softmax probabilities reach `coverage`.
std::vector<int> expertsPerToken(const Trace& tr, float coverage = 0.9f);
// JSD (nats) per layer between two sequences' mean routing distributions ([nLayer], dense: 0).
std::vector<float> routingJsd(const Trace& a, const Trace& b);

// Δ = frequency on task data - frequency on neutral data ([nLayer, E] each, e.g. expertLoad
// averaged over prompts); returns (layer, expert) with Δ > τ among `layers` (empty: all).
std::vector<std::pair<int, int>> pickExperts(const std::vector<float>& taskFreq,
                                             const std::vector<float>& neutralFreq, int nLayer,
                                             int nExpert, float tau,
                                             const std::vector<int>& layers = {});
// The middle third of the layers [L/3, 2L/3) (the default for soft promotion).
std::vector<int> middleLayers(int nLayer);

// Edits for the chosen experts: soft promotion (+λ·std(z)), hard force (max(z) + ε) or off (−∞).
std::vector<RouterEdit> softPromotion(const std::vector<std::pair<int, int>>& experts,
                                      float lambda = 0.5f);
std::vector<RouterEdit> hardForce(const std::vector<std::pair<int, int>>& experts,
                                  float eps = 1e-3f);
std::vector<RouterEdit> switchOff(const std::vector<std::pair<int, int>>& experts);
// Layers where more experts are forced than the model uses per token (the model derails; warn).
std::vector<int> overForcedLayers(const std::vector<RouterEdit>& edits, int nExpertUsed);

}  // namespace ll::rt::ana
