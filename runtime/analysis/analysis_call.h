// Named analyses with JSON requests: the one entry point that a CLI command running in process and
// the server's Analyze call (remote/) both run, so a command's document is the same bytes wherever
// it ran. Requests are the runtime's own request types; their JSON form is checked field by field.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "runtime/analysis/attribution.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/analysis/latent_language.h"
#include "runtime/analysis/layer_skip.h"
#include "runtime/analysis/selection_document.h"
#include "runtime/api/session.h"

namespace ll::rt::ana {

using AnalysisRequest = std::variant<SelectCall, AttributionRequest, LayerSkipRequest,
                                     LatentLanguageRequest, FlowRequest>;

// The CLI command's name: "select", "attribute", "skip", "latent", "flow".
const char* analysisName(const AnalysisRequest& req);
// Every field of the request (the inverse of parseAnalysisRequest).
nlohmann::json analysisRequestJson(const AnalysisRequest& req);
// Throws std::invalid_argument naming an unknown analysis, an unknown field, a field of the wrong
// type or a count out of range (values the analysis checks against the model, such as layers and
// positions, are checked when it runs, with the same messages as in process).
AnalysisRequest parseAnalysisRequest(const std::string& name, const nlohmann::json& request);

struct AnalysisOutput {
  // What the command writes, without the final newline: select prints it, the others write --out.
  std::string document;
  // The result itself, for figures (monostate for select).
  std::variant<std::monostate, Attribution, LayerSkipResult, LatentLanguageResult, FlowGraph>
      result;
};

// Runs req on the session's prompt. base: the interventions (and subset) of the trace the analysis
// reads. progress (layersDone, nLayer) -> false cancels (throws Cancelled); it is called by the
// base run and by the analyses that report progress (skip, flow) and between their stages.
AnalysisOutput runAnalysis(Session& s, const AnalysisRequest& req, const RunRequest& base = {},
                           const RunProgress& progress = {});

}  // namespace ll::rt::ana
