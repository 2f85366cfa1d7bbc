// Why a token-selection method keeps more than k tokens (selection_reasons.h).
#include "runtime/analysis/selection_reasons.h"

#include <algorithm>
#include <set>

namespace ll::rt::ana {
namespace {

std::string plural(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string head(const char* method, int kept, int k) {
  return std::string(method) + " keeps " + std::to_string(kept) + " > k = " + std::to_string(k) +
         ": ";
}

// Distinct positions below `limit` over all heads' kept sets.
int unionBelow(const std::vector<std::vector<int>>& perHead, int limit) {
  std::set<int> u;
  for (const auto& h : perHead)
    for (int j : h)
      if (j < limit) u.insert(j);
  return static_cast<int>(u.size());
}

}  // namespace

std::string snapKvKeepReason(const Selection& r, int k, int T, int capacity, int window) {
  const int kept = static_cast<int>(r.kept.size());
  if (kept <= k || T <= 0) return {};
  const int W = std::clamp(window, 1, T);
  if (T <= capacity)
    return head("SnapKV", kept, k) + "the prompt's " + plural(T, "token fits", "tokens fit") +
           " the capacity C = " + std::to_string(capacity) +
           (capacity > k ? " (at least the observation window + 1)" : "") +
           ", so every token is kept";
  const int nHeads = static_cast<int>(r.keptPerHead.size());
  const int perHead = std::max(0, capacity - W);
  std::string s = head("SnapKV", kept, k) + "the observation window of the last " +
                  plural(W, "token", "tokens") + " is always kept";
  if (capacity > k)
    s += "; the capacity C = " + std::to_string(capacity) + " is at least the window + 1";
  if (nHeads > 1) {
    s += "; each of the " + std::to_string(nHeads) + " heads keeps its own top " +
         std::to_string(perHead) + " earlier tokens, and the union over heads holds " +
         std::to_string(unionBelow(r.keptPerHead, T - W));
  } else {
    s += "; plus the top " + std::to_string(perHead) + " earlier tokens (C - W)";
  }
  return s;
}

std::string h2oKeepReason(const Selection& r, int k, int T, int heavy, int recent) {
  const int kept = static_cast<int>(r.kept.size());
  if (kept <= k || T <= 0) return {};
  const int rec = std::min(recent, T), older = T - rec;
  const int nHeads = static_cast<int>(r.keptPerHead.size());
  std::string s = head("H2O", kept, k) + "the " +
                  (rec == 1 ? std::string("most recent token is")
                            : std::to_string(rec) + " most recent tokens are") +
                  " always kept";
  if (rec + std::min(heavy, older) > k)
    s += "; recent + heavy hitters = " + std::to_string(rec) + " + " +
         std::to_string(std::min(heavy, older)) + " exceeds k";
  if (nHeads > 1)
    s += "; each of the " + std::to_string(nHeads) + " heads keeps its own " +
         plural(std::min(heavy, older), "heavy hitter", "heavy hitters") +
         ", and the union over heads holds " + std::to_string(unionBelow(r.keptPerHead, older));
  return s;
}

std::string promptDistillKeepReason(const std::vector<DistillStage>& stages,
                                    const std::vector<std::vector<int>>& keptPerStage, int k) {
  if (keptPerStage.empty()) return {};
  const int kept = static_cast<int>(keptPerStage.back().size());
  if (kept <= k) return {};
  std::string s = head("PromptDistill", kept, k) +
                  "each stage keeps its top k among the tokens before the last prompt token, "
                  "plus the last token itself (always kept)";
  const size_t n = std::min(stages.size(), keptPerStage.size());
  if (n > 0 && stages[n - 1].k > k)
    s += "; the last stage's k = " + std::to_string(stages[n - 1].k) + " (from the stages) is " +
         "larger than k";
  s += "; stages:";
  for (size_t i = 0; i < n; ++i)
    s += std::string(i ? "," : "") + " layer " + std::to_string(stages[i].layer) + " (k " +
         std::to_string(stages[i].k) + ") keeps " + std::to_string(keptPerStage[i].size());
  return s;
}

}  // namespace ll::rt::ana
