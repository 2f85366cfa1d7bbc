// The Steering panel's settings as the worker reads them, shared by the local and the remote job:
// the inputs a vector needs (checked with the panel's messages) and the keys a computed vector and
// the readouts' sweeps are cached under.
#pragma once

#include "ui/view_state.h"

#include <string>
#include <vector>

namespace ll::ui {

// The template a concept word and its baselines are put in.
inline constexpr const char* kConceptTemplate = "Tell me about {word}";

// A saved vector checked against the model's width (throws std::invalid_argument).
const std::vector<float>& savedSteeringVector(const SteeringSettings& st, int nEmbd);
// Throws std::invalid_argument naming what the panel lacks for a computed (concept or
// contrastive) vector.
void checkSteeringInputs(const SteeringSettings& st);
// What a computed vector depends on (its layer, source and inputs).
std::string steeringVectorKey(const SteeringSettings& st, int layer);
// The settings that shape the steering readouts' sweeps (the vector's source and inputs, layer,
// alpha and start): enabled and genTokens cleared, so toggling the continuation keeps them.
SteeringSettings steerSweepKey(SteeringSettings st);

}  // namespace ll::ui
