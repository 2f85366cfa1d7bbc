// The model card's induction scores (ALGORITHMS.md §1): one run of an induction prompt whose
// length the model's context and sliding window allow, scored per head, with the heads whose
// layer cannot see the stripe marked NaN. One recipe for a model in this process and one on a
// server (the caller says how the prompt runs).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/api/trace.h"
#include "runtime/model/model_spec.h"

namespace ll::rt::ana {

struct InductionCard {
  std::vector<float> scores;  // [nLayer, nHead]; NaN: undefined (inductionHidden); empty: none
  int n = 0;                  // the repeated sequence's length
  std::string note;           // why some layers have no score ("" when every layer has one)
};

// run(ids) returns a captured trace of ids (queries and keys at least). Nothing (empty scores)
// for a vocabulary of 8 tokens or fewer. bos < 0: token 0 stands in.
InductionCard inductionCard(
    const ModelSpec& spec, int32_t bos,
    const std::function<std::shared_ptr<const Trace>(const std::vector<int32_t>&)>& run);

}  // namespace ll::rt::ana
