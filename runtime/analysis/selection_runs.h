// Token selection against the model (ALGORITHMS.md §2, §5): the multi-stage PromptDistill pipeline
// and "answer from kept tokens" (the greedy continuation of the compressed prompt beside the full
// prompt's). GemFilter's answer is a fresh run of the kept tokens re-indexed 0..k-1. PromptDistill
// continues from layer l+1 on the kept tokens with their original positions; the engine has no
// entry point in the middle of the stack, so it is done exactly by attention knockout instead: the
// whole prompt runs, and in layers l+1.. no query may attend a dropped token, so the kept tokens'
// states after layer l are the full run's and later layers see only kept tokens (what the dropped
// rows compute is never read). Limits: with several stages the answer run blocks every dropped
// token from the FIRST stage's layer + 1 on (one knockout window), and the KV-trimming setting of
// §5 is 0 (earlier layers keep every token).
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
// Stage 1 scores from a full run; stage i > 1 from a run where the previous stages' dropped tokens
// are knocked out from their stage's layer + 1 (exact for two stages).
DistillResult promptDistill(Session& s, const std::vector<DistillStage>& stages, int kernel = 5,
                            int lastQuery = -1);

struct Answers {
  std::vector<int32_t> full;
  std::vector<int32_t> compressed;
};
// Greedy continuations of the Session's prompt and of the kept tokens re-indexed (GemFilter).
Answers answerReindexed(Session& s, const std::vector<int>& kept, int maxTokens);
// Greedy continuations with dropped tokens invisible from layer `fromLayer` on, original positions
// (PromptDistill, see above).
Answers answerKeptPositions(Session& s, const std::vector<int>& kept, int fromLayer, int maxTokens);

}  // namespace ll::rt::ana
