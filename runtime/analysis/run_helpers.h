// Forward passes the analyses need beside the Session's own prompt: arbitrary token ids (steering
// prompt sets, teacher-forced continuations) and greedy decoding with interventions that depend on
// the sequence length. They run on the Session's engine without publishing (the Session's
// prompt and trace stay as they were; only its KV cache prefix may be recomputed).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "runtime/api/request.h"
#include "runtime/api/trace.h"

namespace ll::rt {
class Session;
}

namespace ll::rt::ana {

// positions empty: 0..n-1. capture false: no per-layer capture; allLogits false: logits of the
// last position only.
std::shared_ptr<const Trace> runIds(Session& s, const std::vector<int32_t>& ids,
                                    const Interventions& iv = {}, bool capture = true,
                                    std::vector<int32_t> positions = {}, bool allLogits = true);

// Greedy continuation (argmax, lowest id on ties) of ids at positions; interventionsFor(T) gives
// the interventions for a sequence of T tokens. Stops after maxTokens or at EOS (stopAtEos).
std::vector<int32_t> greedy(Session& s, std::vector<int32_t> ids, std::vector<int32_t> positions,
                            const std::function<Interventions(int)>& interventionsFor,
                            int maxTokens, bool stopAtEos = true);

// Tokenizes a text with the model's default BOS handling (throws when the model has no tokenizer).
std::vector<int32_t> tokenize(Session& s, const std::string& text);

}  // namespace ll::rt::ana
