// Activation patching / causal tracing (ALGORITHMS.md §12): a component's value at (layer,
// position) is copied from one run into the other and the change of a metric at the last
// position is normalised between the clean and the corrupted runs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/api/request.h"

namespace ll::rt {
class Session;
}

namespace ll::rt::ana {

enum class PatchMetric { LogitDiff, Prob };      // logit(a) - logit(b), or p(a)
enum class PatchComponent { Resid, Attn, Mlp };  // residual after the layer, attention, MLP
enum class PatchDirection { Denoise, Noise };    // clean value into the corrupted run, or back

// The one definition of the analysis's parameters (CLI options, GUI controls and sessions bind to
// it). Corruption: a second prompt of the same length, or (noiseEnd > noiseBegin) ROME-style noise
// eps ~ N(0, (noiseScale * sigma)^2) added to the token embeddings of [noiseBegin, noiseEnd),
// sigma = std of the token embedding matrix, drawn from noiseSeed.
struct PatchingRequest {
  PatchMetric metric = PatchMetric::LogitDiff;
  PatchComponent component = PatchComponent::Resid;
  PatchDirection direction = PatchDirection::Denoise;
  int32_t target = -1;  // token a; -1: the clean run's top-1 at the last position
  // token b (logit-diff); -1: the corrupted run's top-1 at the last position (its runner-up when
  // that is the target: a corruption that keeps the answer still has a logit difference to move)
  int32_t other = -1;
  bool heads = true;  // also the per-head grid at the last position
  int noiseBegin = 0, noiseEnd = 0;
  float noiseScale = 3.0f;
  uint64_t noiseSeed = 1;
  bool operator==(const PatchingRequest&) const = default;
};
inline constexpr const char* kPatchMetricHelp =
    "metric at the last position: logit-diff (logit(target) - logit(other)) or prob "
    "(p(target)); default logit-diff";
inline constexpr const char* kPatchComponentHelp =
    "what is patched at each (layer, position): resid (the residual stream after the layer), "
    "attn (the attention output), mlp (the MLP / MoE output); default resid";
inline constexpr const char* kPatchDirectionHelp =
    "denoise (the clean value into the corrupted run) or noise (the corrupted value into the "
    "clean run); default denoise";
inline constexpr const char* kPatchTargetHelp =
    "target token id a (default: the clean run's top-1 at the last position)";
inline constexpr const char* kPatchOtherHelp =
    "other token id b for logit-diff (default: the corrupted run's top-1 at the last position, "
    "its runner-up when that is the target)";
inline constexpr const char* kPatchNoiseHelp =
    "corrupt by noise instead of a second prompt: B:E adds N(0, (3 sigma)^2) to the token "
    "embeddings of positions [B, E), sigma = std of the embedding matrix, fixed seed";

// Names used by the CLI, session files and JSON; the parsers throw std::invalid_argument.
std::string patchMetricName(PatchMetric m);
std::string patchComponentName(PatchComponent c);
std::string patchDirectionName(PatchDirection d);
PatchMetric parsePatchMetric(const std::string& name);
PatchComponent parsePatchComponent(const std::string& name);
PatchDirection parsePatchDirection(const std::string& name);

struct PatchingResult {
  int nLayer = 0, nTokens = 0, nHead = 0;
  PatchingRequest request;                    // as run, target and other resolved
  std::vector<int32_t> clean, corrupted;      // corrupted == clean for noise corruption
  int firstDiff = 0;                          // first position where the runs' inputs differ
  double metricClean = 0, metricCorrupt = 0;  // m_c, m_r
  // [nLayer, nTokens]: (m_patched - m_r) / (m_c - m_r) for the component at (layer, position),
  // in both directions (denoise: 1 = the clean behaviour restored; noise: 0 = the corrupted
  // behaviour reached). Positions before firstDiff are not run: the patch changes nothing there.
  std::vector<float> effect;
  std::vector<float> metric;  // [nLayer, nTokens] m_patched
  // [nLayer, nHead] per-head effect and metric at the last position (empty unless heads).
  std::vector<float> headEffect, headMetric;
  int passes = 0;  // patched forward passes run
};

// (cellsDone, cellsTotal) -> false to cancel (throws ll::rt::Cancelled). Called after each
// patched pass and also between the layers of a pass (cellsDone unchanged), so a long pass stops
// within a layer.
using PatchProgress = std::function<bool(int, int)>;

// clean and corrupted token ids of the same length (corrupted empty: noise corruption, see the
// request) at positions 0..T-1, under the interventions `base` in every run. Runs on the Session's
// engine without publishing; patched passes keep no capture and only the last logits, and reuse
// the rows before the patched position (positions are swept from the last down). Throws
// std::invalid_argument naming the problem: lengths differ, identical prompts, no or two
// corruptions, a bad noise span, token ids out of range, target == other for logit-diff, or
// m_c == m_r (within 1e-3 of the metric's size, where the normalised effect would be rounding
// noise).
PatchingResult activationPatching(Session& s, const std::vector<int32_t>& clean,
                                  const std::vector<int32_t>& corrupted,
                                  const PatchingRequest& req = {}, const Interventions& base = {},
                                  const PatchProgress& progress = {});

// The metric of one last-position logit row (double accumulation for prob).
double patchMetricValue(const float* logits, int nVocab, PatchMetric m, int32_t a, int32_t b);

// The noise patches of a request (one Embedding add-patch per position of the span).
std::vector<Patch> noisePatches(Session& s, const PatchingRequest& req, int nTokens);

}  // namespace ll::rt::ana
