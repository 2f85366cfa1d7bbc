// Token selection against the model (ALGORITHMS.md §2, §5): the multi-stage PromptDistill pipeline
// and "answer from kept tokens" (the greedy continuation of the compressed prompt beside the full
// prompt's). GemFilter's answer is a fresh run of the kept tokens re-indexed 0..k-1. PromptDistill
// continues from layer l+1 on the kept tokens with their original positions; the engine has no
// entry point in the middle of the stack, so it runs the whole prompt with one attention mask per
// stage instead: in every layer after l_s no query (generated tokens included) attends a token
// dropped by stage s. The kept tokens' states after l_s are then the full run's, and later layers
// see only survivors; what dropped rows compute is never read, so this is exact for any number of
// stages. KV trimming (0 none, -1 all, n: the first n stages) also hides stage s's dropped tokens
// from generated tokens in layers 0..l_s, where the trimmed cache no longer holds them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/analysis/token_selection.h"

namespace ll::rt {
class Session;
}

namespace ll::rt::ana {

// GemFilter's selection (§2) from a pass that stops after `layer` (§2.1: the later layers are not
// needed for the selection; no logits are computed).
Selection gemFilterSelect(Session& s, int layer, int k = 1024, int kernel = 5);

struct DistillStage {
  int layer = 13;
  int k = 1024;
};
// "13:1024,20:512"
std::vector<DistillStage> parseStages(const std::string& spec);

struct DistillResult {
  std::vector<std::vector<int>> keptPerStage;      // survivors after each stage (prompt indices)
  std::vector<std::vector<float>> scoresPerStage;  // one per candidate of that stage
  std::vector<int> survivorsPerLayer;              // [nLayer] tokens each layer's later part sees
};
// Stage 1 scores from a full run; stage i > 1 from a run in which stages < i mask their dropped
// tokens (exact: the survivors' Q/K at layer l_i are those of the continuation). base: the prompt
// run's own interventions (router edits, knockout, steering), kept in every run.
DistillResult promptDistill(Session& s, const std::vector<DistillStage>& stages, int kernel = 5,
                            int lastQuery = -1, const Interventions& base = {});

// The masks of a PromptDistill continuation of a T-token prompt: stage s (layer stageLayers[s],
// -1 = before layer 0, survivors keptPerStage[s], each a subset of the previous) hides the tokens
// it dropped from every query in layers > l_s, and, for the first kvTrim stages (-1 all), from
// queries at index >= T in layers <= l_s.
Interventions distillInterventions(int T, const std::vector<int>& stageLayers,
                                   const std::vector<std::vector<int>>& keptPerStage, int kvTrim,
                                   int nLayer);

struct Answers {
  std::vector<int32_t> full;
  std::vector<int32_t> compressed;
};
// Interventions of a T-token prompt carried onto its kept tokens re-indexed 0..n-1 (kept ascending,
// in [0, T)): router edits and skips as they are; steering starts, knockout token sets and
// fromIndex, and patch indices mapped to the kept tokens' new indices (dropped tokens leave the
// sets; a patch on a dropped token is dropped); an index >= T (a generated token) moves to
// n + (index - T). Per-head eviction refers to the full prompt's keys and is not carried.
Interventions reindexedInterventions(const Interventions& iv, const std::vector<int>& kept, int T);
// Greedy continuations of the Session's prompt and of the kept tokens re-indexed (GemFilter),
// the full prompt under base (the prompt run's interventions), the kept tokens under
// reindexedInterventions(base).
Answers answerReindexed(Session& s, const std::vector<int>& kept, int maxTokens,
                        const Interventions& base = {});
// Greedy continuations of the full prompt and of the PromptDistill continuation (see above), both
// under base (the prompt run's interventions; the continuation adds the stages' masks to them).
Answers answerDistilled(Session& s, const std::vector<int>& stageLayers,
                        const std::vector<std::vector<int>>& keptPerStage, int kvTrim,
                        int maxTokens, const Interventions& base = {});
// One stage: dropped tokens invisible from layer `fromLayer` on, original positions.
Answers answerKeptPositions(Session& s, const std::vector<int>& kept, int fromLayer, int maxTokens);

// SnapKV (§3) and H2O (§4) answers: the prompt is prefilled in full, then in EVERY layer each kv
// head keeps its own positions (the methods run per layer on that layer's attention of the
// captured trace) and generated tokens attend only those (plus the generated tokens). Selection is
// per head as specified; with GQA one kv head serves nHead/nHeadKv query heads, so its scores are
// the sum over them (exactly the spec when nHead == nHeadKv). H2O is a STATIC eviction after
// prefill: the decode-time accumulation (each generated row adding to the scores and evicting
// again) is not modelled. keptPerLayer (optional): [nLayer][nHeadKv] kept positions.
HeadEviction snapKvEviction(const Trace& tr, int capacity, int window, int kernel = 5,
                            bool maxPooling = false,
                            std::vector<std::vector<std::vector<int>>>* keptPerLayer = nullptr);
HeadEviction h2oEviction(const Trace& tr, int heavy, int recent,
                         std::vector<std::vector<std::vector<int>>>* keptPerLayer = nullptr);
// Greedy continuations of the full prompt and of the prompt with the eviction in force.
Answers answerEvicted(Session& s, const HeadEviction& ev, int maxTokens);

}  // namespace ll::rt::ana
