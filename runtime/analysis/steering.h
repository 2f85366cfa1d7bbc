// Steering vectors (ALGORITHMS.md §8): construction by concept injection and by contrastive mean
// difference from the residual stream after layer l, and the readouts that say how hard a vector
// pushes (alpha ||v|| / mean ||h_l||) and what it changes in later layers and generated tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/api/request.h"
#include "runtime/api/trace.h"

namespace ll::rt {
class Session;
}

namespace ll::rt::ana {

// floor(0.7 * nLayer)
int defaultSteeringLayer(int nLayer);

// Output of layer `layer` at sequence index t of a captured trace.
const float* residAfter(const Trace& tr, int layer, int t);

// Concept injection: v = h_l(last token of promptOf(word)) - mean over baseline words of the same.
// Not normalised.
struct ConceptInput {
  std::vector<int32_t> word;                    // token ids of the prompt built from the word
  std::vector<std::vector<int32_t>> baselines;  // token ids of the baseline words' prompts
};
std::vector<float> conceptVector(Session& s, int layer, const ConceptInput& in);
// "Tell me about {word}" with {word} replaced (the template must contain {word}).
std::string fillTemplate(const std::string& tmpl, const std::string& word);

// Contrastive mean difference: per example the mean of h_l over its tokens (a leading BOS is
// excluded; an example that is only BOS is an error), v = mean(positive) - mean(negative).
std::vector<float> contrastiveVector(Session& s, int layer,
                                     const std::vector<std::vector<int32_t>>& positive,
                                     const std::vector<std::vector<int32_t>>& negative);
// The same from per-example mean vectors (tests, callers with their own traces).
std::vector<float> exampleMean(const Trace& tr, int layer, int32_t bos);

// alpha * ||v|| / mean over tokens of ||h_l,t|| (from the unsteered trace).
double pushRatio(const Trace& ref, int layer, const std::vector<float>& v, float alpha);

// Steered vs reference over layers [steering.layer, nLayer) and sequence indices >= fromPos of
// prompt + the first nGenerated greedy tokens of the reference (both runs see the same tokens,
// so positions line up).
struct SteeringReadout {
  int firstLayer = 0, nLayers = 0;
  std::vector<int> positions;           // sequence indices compared
  int nPrompt = 0;                      // positions >= nPrompt are generated tokens
  std::vector<int32_t> ids;             // prompt + generated
  std::vector<float> diffNorm;          // [nLayers, nPos] ||h_steered - h_ref||
  std::vector<float> cosine;            // [nLayers, nPos] cos(h_steered, h_ref)
  std::vector<float> cosineWithVector;  // [nLayers, nPos] cos(h_steered - h_ref, v)
  double pushRatio = 0.0;
};
SteeringReadout steeringReadout(Session& s, const std::vector<int32_t>& prompt,
                                const Steering& steering, int nGenerated);

}  // namespace ll::rt::ana
