// Named analyses with JSON requests: the one entry point that a CLI command running in process and
// the server's Analyze call (remote/) both run, so a command's document is the same bytes wherever
// it ran. Requests are the runtime's own request types; their JSON form is checked field by field.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "runtime/analysis/analysis_requests.h"
#include "runtime/analysis/attribution.h"
#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/analysis/latent_language.h"
#include "runtime/analysis/layer_skip.h"
#include "runtime/analysis/selection_document.h"
#include "runtime/api/session.h"

namespace ll::rt::ana {

using AnalysisRequest =
    std::variant<SelectCall, AttributionRequest, LayerSkipRequest, LatentLanguageRequest,
                 FlowRequest, PatchCall, KnockoutCall, SteerSweepCall, ExpertContrastRequest,
                 CompareCall, RoutingCall, SteerVectorCall>;

// The CLI command's name: "select", "attribute", "skip", "latent", "flow", "patch", "knockout",
// "steer-sweep", "contrast", "compare", "routing", "steer-vector".
const char* analysisName(const AnalysisRequest& req);
// Every field of the request (the inverse of parseAnalysisRequest).
nlohmann::json analysisRequestJson(const AnalysisRequest& req);
// Throws std::invalid_argument naming an unknown analysis, an unknown field, a field of the wrong
// type or a count out of range (values the analysis checks against the model, such as layers and
// positions, are checked when it runs, with the same messages as in process).
AnalysisRequest parseAnalysisRequest(const std::string& name, const nlohmann::json& request);

// A float32 array a command writes beside its document (patch's .npy files, routing's dump,
// steer-vector's vector): name is the file name the command gives it.
struct OutputArray {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct AnalysisOutput {
  // What the command writes, without the final newline: select, patch, knockout, routing and
  // steer-vector print it, the others write --out.
  std::string document;
  std::vector<OutputArray> arrays;
  // The result itself, for figures (monostate for select, routing and steer-vector).
  std::variant<std::monostate, Attribution, LayerSkipResult, LatentLanguageResult, FlowGraph,
               PatchingResult, KnockoutReadout, SteeringSweepResult, ExpertContrastResult,
               TeacherComparison>
      result;
};

// Where the analysis runs: how it opens a second model (compare's teacher) by the path the request
// names. The CLI loads the file; a server resolves it inside its --models folder.
struct AnalysisEnv {
  std::function<void(Session& teacher, const std::string& path)> openModel;
  // The trace attribute, skip, latent, flow, steer-sweep and compare read instead of a run of the
  // session's prompt: an existing run of the same model (the GUI's prompt run on another server
  // session, so the analysis reads the very values its panels show; its own interventions stand,
  // base's are not used). Null: run the prompt under base. The other analyses refuse it.
  std::shared_ptr<const Trace> trace;
  // compare's teacher session for a path, kept by the caller across calls (a server keeps one per
  // client session and path, as the GUI's job keeps its teacher: the next prompt reuses its
  // prefix, so a remote GUI's teacher gives the local one's bits). Null: a fresh session opened
  // with openModel for each call (the CLI's).
  std::function<Session&(const std::string& path)> teacherSession;
};

// Runs req on the session's prompt. base: the interventions (and subset) of the trace the analysis
// reads (routing's run, select's; the GUI's prompt-run interventions for patch's passes and
// knockout's readout; the other analyses of a command without intervention flags refuse them).
// progress (done, total) -> false cancels (throws Cancelled); it is called by the base run and by
// the analyses that report progress (skip, flow, patch, knockout --sweep, steer-sweep, contrast)
// and between their stages.
AnalysisOutput runAnalysis(Session& s, const AnalysisRequest& req, const RunRequest& base = {},
                           const RunProgress& progress = {}, const AnalysisEnv& env = {});

}  // namespace ll::rt::ana
