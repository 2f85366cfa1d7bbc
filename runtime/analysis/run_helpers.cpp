#include "runtime/analysis/run_helpers.h"

#include <stdexcept>

#include "runtime/analysis/stats.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt::ana {

std::shared_ptr<const Trace> runIds(Session& s, const std::vector<int32_t>& ids,
                                    const Interventions& iv, bool capture,
                                    std::vector<int32_t> positions, bool allLogits) {
  if (ids.empty()) throw std::invalid_argument("empty prompt: no token ids");
  if (positions.empty())
    for (size_t i = 0; i < ids.size(); ++i) positions.push_back(static_cast<int32_t>(i));
  CaptureOptions cap{capture, allLogits};
  return s.engine().run(ids, positions, iv, cap, {}, false);
}

std::vector<int32_t> greedy(Session& s, std::vector<int32_t> ids, std::vector<int32_t> positions,
                            const std::function<Interventions(int)>& interventionsFor,
                            int maxTokens, bool stopAtEos) {
  if (positions.size() != ids.size())
    throw std::invalid_argument("greedy: ids and positions differ");
  const Model& m = s.model();
  const int32_t eos = m.tokenizer ? m.tokenizer->eos() : -1;
  std::vector<int32_t> out;
  for (int i = 0; i < maxTokens; ++i) {
    auto tr = s.engine().run(ids, positions, interventionsFor(static_cast<int>(ids.size())),
                             CaptureOptions{false, false}, {}, false);
    const int32_t tok = rowStats(tr->logits.data(), tr->nVocab, 1).topIds[0];
    out.push_back(tok);
    if (stopAtEos && tok == eos) break;
    if (m.spec.nCtx > 0 && static_cast<int>(ids.size()) >= m.spec.nCtx) break;
    ids.push_back(tok);
    positions.push_back(positions.back() + 1);
  }
  return out;
}

std::vector<int32_t> tokenize(Session& s, const std::string& text) {
  const Model& m = s.model();
  if (!m.tokenizer) throw std::runtime_error("the model has no tokenizer; pass token ids");
  auto ids = m.tokenizer->encode(text, -1).ids;
  if (ids.empty()) throw std::invalid_argument("empty prompt: '" + text + "' gives no tokens");
  return ids;
}

}  // namespace ll::rt::ana
