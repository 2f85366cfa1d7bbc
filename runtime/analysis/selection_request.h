// One request type for the token-selection methods of ALGORITHMS.md §2-5 (GemFilter, SnapKV, H2O,
// PromptDistill): their parameters with defaults, ranges and help text, the rules for the defaults
// that depend on k or the prompt, and the one function every front end (CLI, GUI, figures) runs.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/token_selection.h"

namespace ll::rt {
class Session;
struct Trace;
}  // namespace ll::rt

namespace ll::rt::ana {

// "gemfilter", "snapkv", "h2o", "promptdistill" (the CLI's and the session files' spelling).
const char* selectionMethodKey(SelectionMethod m);
// Any case, punctuation ignored ("SnapKV", "snap-kv"); nullopt when unknown.
std::optional<SelectionMethod> parseSelectionMethod(const std::string& name);

// kAuto in layer / window / recent: the rule of the functions below, resolved against the model
// and the prompt when the request runs.
inline constexpr int kAuto = -1;

struct SelectionRequest {
  SelectionMethod method = SelectionMethod::GemFilter;
  int layer = kAuto;     // selection layer r (§2) / l (§5); kAuto: defaultSelectionLayer
  int k = 1024;          // §2 top k = min(1024, T), §3 C = 1024, §5 k = 1024; clamped to 1..T
  int window = kAuto;    // SnapKV observation window W (§3); kAuto: defaultSnapKvWindow(k)
  int recent = kAuto;    // H2O recent tokens r (§4); kAuto: defaultH2oRecent(k)
  int kernel = 5;        // average pooling kernel of every method (§2.4, §3, §5.3); 1: none
  bool maxPool = false;  // SnapKV: max pooling instead of average (§3 "max pooling optional")
  std::string stages;    // PromptDistill "layer:k,layer:k" (§5.6); empty: one stage (layer, k)
  int kvTrim = 0;        // PromptDistill: stages that also trim the KV cache (0 none, -1 all)
  bool operator==(const SelectionRequest&) const = default;
};

// An integer parameter of SelectionRequest as the front ends show it: CLI option --name (and
// session key selection.name), one-line help, valid range; the default is SelectionRequest{}'s.
struct SelectionIntParam {
  const char* name;
  const char* label;  // the GUI's row label
  int SelectionRequest::*field;
  int min, max;  // kAuto is valid besides [min, max] where autoRule is set
  const char* help;
  const char* autoRule;  // what kAuto means, or nullptr
};
const std::vector<SelectionIntParam>& selectionIntParams();
// Whether `method` reads the parameter (window: SnapKV; recent: H2O; kernel: all but H2O; kv-trim:
// PromptDistill; layer, k: all).
bool selectionParamUsed(const SelectionIntParam& p, SelectionMethod method);
// "--name" help line with its default, e.g. "SnapKV observation window W (default: auto =
// clamp(k/4, 1, 32))".
std::string selectionParamHelp(const SelectionIntParam& p);

// Defaults that depend on the model or on k. ALGORITHMS.md §2 and §5 use layer 13 of Llama's 32;
// other depths get the same fraction, floor(13 L / 32). W = 32 (§3) and r = 32 (§4) are for budgets
// of 1024; for small k they would fill the budget, so W is at most k/4 and r at most k/2 (H2O's own
// scripts split heavy and recent equally).
int defaultSelectionLayer(int nLayer);
int defaultSnapKvWindow(int k);
int defaultH2oRecent(int k);

// The parameters a request runs with on a T-token prompt of an nLayer model: kAuto resolved, k
// clamped to 1..T, SnapKV's capacity C = max(k, W), H2O's heavy hitters k - r. Throws
// std::invalid_argument naming the range for a value outside it (layer, kernel, stages, ...).
struct SelectionParams {
  SelectionMethod method = SelectionMethod::GemFilter;
  int layer = 0, k = 1, window = 1, capacity = 1, recent = 1, heavy = 0, kernel = 5;
  bool maxPool = false;
  std::vector<DistillStage> stages;  // PromptDistill only
  int kvTrim = 0;
  // The parameters the method used, for exports and captions ({"k": "8", "window": "2", ...}).
  std::map<std::string, std::string> record() const;
};
SelectionParams resolveSelection(const SelectionRequest& req, int nTokens, int nLayer);

struct SelectionOutcome {
  SelectionParams params;
  Selection selection;             // the method's own result (per head for SnapKV / H2O)
  std::vector<float> tokenScores;  // [T]: per-head methods the mean over heads, PromptDistill its
                                   // first stage; 0 where the method gives no score
  DistillResult distill;           // PromptDistill only
  std::string reason;              // why more than k are kept (selection_reasons.h), or ""
  std::vector<std::string> warnings;  // where the model limits the method (method_limits.h)
  const std::vector<int>& kept() const { return selection.kept; }
};

// Runs the request on the trace `tr` of the Session's prompt. PromptDistill re-runs the prompt on
// `s` under tr's interventions (its later stages need the earlier stages' masks); with tr ==
// nullptr the trace is s.run(), except for GemFilter, which stops after its layer (§2.1).
SelectionOutcome runSelection(Session& s, const Trace* tr, const SelectionRequest& req);
// The methods that only read a trace (GemFilter, SnapKV, H2O; not PromptDistill, which throws
// std::invalid_argument) on the trace `tr` of a model of this shape: what runSelection computes
// for them, without a Session (a remote trace's fetched parts: GemFilter reads the queries and
// keys, SnapKV the queries and keys, H2O the attention column sums).
SelectionOutcome runSelectionOnTrace(const ModelSpec& spec, const Trace& tr,
                                     const SelectionRequest& req);

}  // namespace ll::rt::ana
