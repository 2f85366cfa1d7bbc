// The `knockout` analysis's document (what the command prints: the effect, and the sweep when
// swept) and its inverse: a client that ran the knockout on a server reads the readout back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/analysis/knockout.h"
#include "runtime/model/model_spec.h"

namespace ll::rt::ana {

// answerPiece: the answer token's text; swept: the readout whose sweep the document carries, or
// null.
nlohmann::json knockoutDocument(const ModelSpec& spec, const std::vector<int>& from,
                                const std::vector<int>& to, const KnockoutResult& r,
                                const std::string& answerPiece, const KnockoutReadout* swept);

// The readout (effect, and the sweep when swept) of a document a server sent. Untrusted: every
// field is checked against the model; throws std::invalid_argument naming the field.
KnockoutReadout parseKnockoutDocument(const std::string& document, const ModelSpec& spec,
                                      bool swept);

}  // namespace ll::rt::ana
