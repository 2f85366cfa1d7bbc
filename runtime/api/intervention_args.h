// Interventions described by plain strings and numbers (command-line flags, session files) turned
// into an Interventions value, with clear errors for bad input (missing file, wrong vector size,
// "L:E" out of range).
#pragma once

#include <string>
#include <vector>

#include "runtime/api/request.h"
#include "runtime/model/model_spec.h"

namespace ll::rt {

struct InterventionArgs {
  std::string steerPath;  // .npy f32 [nEmbd] (or [1, nEmbd]); empty = no steering
  int steerLayer = -1;    // -1: floor(0.7 * nLayer) (ALGORITHMS.md §8 default)
  float steerAlpha = 1.0f;
  int steerFrom = 0;
  std::vector<std::string> banExperts;    // "L:E"
  std::vector<std::string> forceExperts;  // "L:E"
  std::vector<std::string> biasExperts;   // "L:E:VALUE"
};

Interventions buildInterventions(const InterventionArgs& args, const ModelSpec& spec);

}  // namespace ll::rt
