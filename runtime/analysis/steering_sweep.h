// Steering readouts (ALGORITHMS.md §8, completing it): how the next-token distribution at one
// position answers a steering vector, as alpha sweeps (KL(p_alpha || p_0), entropy, top-1) and
// as the steered layer moves at the current alpha, with alpha ||v|| / mean ||h_l|| per layer.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "runtime/api/trace.h"

namespace ll::rt {
class Session;
}

namespace ll::rt::ana {

// 0, then 12 log-spaced magnitudes 0.2 .. 16 (the §8 range) with the sign of alpha (positive
// when alpha is 0): a negative current alpha sweeps the negative side.
std::vector<float> defaultSweepAlphas(float alpha);

// The one definition of the analysis's parameters (CLI options, GUI controls and sessions bind to
// it). position < 0 counts from the end (-1 = the last token); layer < 0: floor(0.7 n_layer).
struct SteeringSweepRequest {
  int layer = -1;
  float alpha = 4.0f;  // the current alpha: the layer sweep runs at it
  int fromPos = 0;     // steered sequence indices >= fromPos (as rt::Steering)
  int position = -1;
  std::vector<float> alphas;  // the alpha sweep as given; empty: defaultSweepAlphas(alpha)
  bool layerSweep = true;     // also apply the vector at every layer, at alpha
};
inline constexpr const char* kSweepLayerHelp =
    "layer whose output is steered in the alpha sweep (default floor(0.7 * n_layer))";
inline constexpr const char* kSweepAlphaHelp =
    "the current alpha: the layer sweep runs at it (default 4)";
inline constexpr const char* kSweepFromHelp = "first steered sequence index (default 0)";
inline constexpr const char* kSweepPositionHelp =
    "token index P whose next-token distribution is read (negative counts from the end; default: "
    "the last token)";
inline constexpr const char* kSweepAlphasHelp =
    "alpha values of the sweep, comma separated (default: 0 and 12 log-spaced values 0.2..16 with "
    "the sign of --alpha)";
inline constexpr const char* kSweepNoLayersHelp = "skip the layer sweep (n_layer passes)";

struct SteeringSweepResult {
  int nLayer = 0, nTokens = 0;
  int position = 0;  // P
  int layer = 0;     // the alpha sweep's layer
  int fromPos = 0;
  float alpha = 0.0f;
  bool reaches = true;  // P >= fromPos: otherwise no steered row is at or before P (KL 0)
  int32_t top1Base = -1;
  double entropyBase = 0.0;  // nats, the unsteered run at P
  // The alpha sweep at `layer`:
  std::vector<float> alphas;    // [A]
  std::vector<double> kl;       // [A] KL(p_alpha || p_0) at P, nats
  std::vector<double> entropy;  // [A] entropy of p_alpha at P, nats
  std::vector<int32_t> top1;    // [A]
  // The layer sweep at alpha (empty without it): the same vector added to each layer's output.
  std::vector<double> layerKl;       // [nLayer]
  std::vector<double> layerEntropy;  // [nLayer]
  std::vector<int32_t> layerTop1;    // [nLayer]
  std::vector<double> pushRatio;     // [nLayer] alpha ||v|| / mean over tokens of ||h_l||
  int reusedRows = 0;                // prompt rows the passes took from the KV cache, in all
};

// (passesDone, passes) -> false to cancel (throws ll::rt::Cancelled).
using SweepProgress = std::function<bool(int, int)>;

// base: an unsteered trace of the Session's model with capture (for the push ratio) and the
// logits of P (all logits, or P the last token); its interventions stay in every steered run.
// v: the steering vector [n_embd]. Runs (A - zeros) + nLayer passes on the Session's engine over
// tokens 0..P only (a token's logits do not depend on later ones), capture off, last logits only,
// without publishing; each reuses the cached rows before fromPos.
SteeringSweepResult steeringSweep(Session& s, const Trace& base, const std::vector<float>& v,
                                  const SteeringSweepRequest& req = {},
                                  const SweepProgress& progress = {});

// The most alpha values one sweep takes (a request's, and a document read back).
inline constexpr size_t kMaxSweepAlphas = 4096;

// The JSON written by `layerlens-cli steer-sweep` and the GUI's data export.
nlohmann::json steeringSweepJson(const SteeringSweepResult& r);
// steeringSweepJson read back (a server's steer-sweep document, untrusted;
// steering_sweep_parse.cpp), every field checked against the model's and the prompt's shape:
// std::invalid_argument names the field. reusedRows is not in the document (0).
SteeringSweepResult parseSteeringSweepJson(const nlohmann::json& j, int nLayer, int nTokens,
                                           int nVocab);

}  // namespace ll::rt::ana
