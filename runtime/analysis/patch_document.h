// The `patch` analysis's document and arrays (what the command prints and writes) and their
// inverse: a client that ran the sweep on a server reads the PatchingResult back from them.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/analysis/analysis_call.h"
#include "runtime/analysis/patching.h"
#include "runtime/model/model_spec.h"

namespace ll::rt::ana {

// The document (printed form) and the arrays effect [L, T], metric [L, T] and, with the per-head
// grid, heads [L, H] and head_metric [L, H]; result left empty.
AnalysisOutput patchOutput(const PatchingResult& r);

// The result of a sweep run remotely for sent on these ids (corrupt empty: noise corruption).
// Untrusted: every field and array is checked against the model and the ids; throws
// std::invalid_argument naming the field or array.
PatchingResult parsePatchOutput(const std::string& document, const std::vector<OutputArray>& arrays,
                                const PatchingRequest& sent, const std::vector<int32_t>& clean,
                                const std::vector<int32_t>& corrupt, const ModelSpec& spec);

}  // namespace ll::rt::ana
