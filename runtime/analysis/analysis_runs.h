// The runs of the command analyses of analysis_requests.h (patch, knockout, steer-sweep, contrast,
// compare, routing, steer-vector) for runAnalysis: each builds the exact document its CLI command
// printed or wrote in process, and the arrays it writes beside it.
#pragma once

#include "runtime/analysis/analysis_call.h"

namespace ll::rt::ana {

// The command analyses are the last alternatives of AnalysisRequest.
inline constexpr size_t kCommandAnalyses = 7;

// The trace an analysis reads: env.trace, checked against the session's model, or a run of the
// session's prompt under base (analysis_call.cpp).
std::shared_ptr<const Trace> baseTrace(Session& s, const RunRequest& base,
                                       const RunProgress& progress, const AnalysisEnv& env);

AnalysisOutput runCommandAnalysis(Session& s, const AnalysisRequest& req, const RunRequest& base,
                                  const RunProgress& progress, const AnalysisEnv& env);
// analysis_runs_vectors.cpp: routing (base: the run's interventions) and steer-vector.
AnalysisOutput runRouting(Session& s, const RoutingCall& c, const RunRequest& base,
                          const RunProgress& progress);
AnalysisOutput runSteerVector(Session& s, const SteerVectorCall& c, const RunProgress& progress);

}  // namespace ll::rt::ana
