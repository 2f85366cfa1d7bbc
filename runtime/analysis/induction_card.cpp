// The model card's induction scores (induction_card.h).
#include "runtime/analysis/induction_card.h"

#include <algorithm>
#include <limits>

#include "runtime/analysis/attention_stats.h"
#include "runtime/analysis/method_limits.h"

namespace ll::rt::ana {

InductionCard inductionCard(
    const ModelSpec& sp, int32_t bos,
    const std::function<std::shared_ptr<const Trace>(const std::vector<int32_t>&)>& run) {
  InductionCard card;
  if (sp.nVocab <= 8) return card;
  int n = std::clamp(sp.nCtx > 0 ? sp.nCtx / 4 : 24, 4, 24);
  // The stripe lies n - 1 tokens back: keep it inside a sliding window where one is that short.
  if (sp.window > 0) n = std::min(n, std::max(4, sp.window));
  if (bos < 0) bos = 0;
  const auto ids = inductionPrompt(bos, n, std::min(3, sp.nVocab - 1), sp.nVocab);
  const auto tr = run(ids);
  card.scores = inductionScores(*tr, n);
  card.n = n;
  for (int l = 0; l < sp.nLayer; ++l)
    if (inductionHidden(sp, l, n))
      for (int h = 0; h < sp.nHead; ++h)
        card.scores[size_t(l) * sp.nHead + h] = std::numeric_limits<float>::quiet_NaN();
  for (const auto& w : inductionWarnings(sp, n)) card.note = w;
  return card;
}

}  // namespace ll::rt::ana
