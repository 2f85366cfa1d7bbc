// Expert contrast (ALGORITHMS.md §9): routing frequency on a set of task prompts minus the same on
// a set of neutral prompts, per layer and expert, the experts whose gain Δ exceeds τ, and the
// router edits that switch them off, hard-force them or softly promote them.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "runtime/api/request.h"

namespace ll::rt {
class Session;
}

namespace ll::rt::ana {

// Where experts are picked: every layer, or the middle third (middleLayers).
enum class ContrastLayers { All, Middle };

// The one definition of the analysis's parameters (CLI options, GUI controls and sessions bind to
// it). Prompts are texts, tokenized with the model's default BOS handling; blank ones are ignored.
struct ExpertContrastRequest {
  std::vector<std::string> task;
  std::vector<std::string> neutral;
  float tau = 0.1f;
  ContrastLayers layers = ContrastLayers::All;
  // Soft promotion (§9): λ·std(z), in the middle layers only by default.
  float lambda = 0.5f;
  bool promoteMiddleOnly = true;
  bool operator==(const ExpertContrastRequest&) const = default;
};
inline constexpr const char* kContrastTaskHelp =
    "task prompts: a file with one prompt per line, or the prompt text itself (repeatable)";
inline constexpr const char* kContrastNeutralHelp =
    "neutral prompts: a file with one prompt per line, or the prompt text itself (repeatable)";
inline constexpr const char* kContrastTauHelp =
    "pick experts whose routing frequency gain Δ = task − neutral exceeds τ (default 0.1)";
inline constexpr const char* kContrastLayersHelp =
    "layers experts are picked in: all (default) or middle (the middle third)";
inline constexpr const char* kContrastLambdaHelp =
    "soft promotion strength: λ·std(z) added to the picked experts' router logits (default 0.5)";
inline constexpr const char* kContrastPromoteHelp =
    "soft promotion in every picked layer, not only the middle third";

// "all", "middle" (CLI --layers, session files, JSON); parse throws std::invalid_argument.
std::string contrastLayersName(ContrastLayers layers);
ContrastLayers parseContrastLayers(const std::string& name);
// The layers a scope covers on a model of nLayer layers.
std::vector<int> contrastLayerList(ContrastLayers layers, int nLayer);

struct ExpertContrastResult {
  int nLayer = 0, nExpert = 0, nExpertUsed = 0;
  ExpertContrastRequest request;  // what was run (prompts as given, blank ones included)
  int nTask = 0, nNeutral = 0;    // prompts run per set
  std::vector<int> pickLayers;    // the layers experts were picked in
  // [nLayer, nExpert]: fraction of a prompt's tokens that chose the expert (expertLoad), averaged
  // over the set's prompts (each prompt weighs the same); zero rows for dense layers.
  std::vector<float> taskFreq, neutralFreq;
  std::vector<float> delta;                 // taskFreq - neutralFreq
  std::vector<std::pair<int, int>> picked;  // (layer, expert) with Δ > τ, by layer then expert
  float at(int layer, int expert) const { return delta[size_t(layer) * nExpert + expert]; }
};

// (promptsDone, promptsTotal) -> false to cancel (throws ll::rt::Cancelled).
using ContrastProgress = std::function<bool(int, int)>;

// Runs every prompt once on the Session's engine (routing captured, last logits only, no
// interventions: the frequencies the edits are chosen from), without publishing. Throws
// std::invalid_argument for a dense model, a set without prompts or a bad τ.
ExpertContrastResult expertContrast(Session& s, const ExpertContrastRequest& req,
                                    const ContrastProgress& progress = {});

// Picks again from r's frequencies with req's τ, layers and promotion settings (no new passes: the
// frequencies depend on the prompt sets only); r.request becomes req.
void applyPicks(ExpertContrastResult& r, const ExpertContrastRequest& req);

// The one-click interventions on the picked experts: switch off (ban), hard force (max(z) + ε;
// check overForcedLayers) or soft promotion (λ·std(z); the middle layers only when the request's
// promoteMiddleOnly).
enum class ContrastAction { SwitchOff, HardForce, SoftPromotion };
std::vector<RouterEdit> contrastEdits(const ExpertContrastResult& r, ContrastAction action);

// The JSON of `layerlens-cli contrast` and the GUI's data export: delta [n_layer][n_expert],
// task_freq, neutral_freq, picked [{layer, expert, delta}], tau, layers, pick_layers, n_task,
// n_neutral, n_expert_used, edits {switch_off, hard_force, soft_promotion} (the contrastEdits as
// [{layer, expert(, eps | lambda)}]) and over_forced_layers (hard force forces more than k).
nlohmann::json expertContrastJson(const ExpertContrastResult& r);

}  // namespace ll::rt::ana
