// Runs an analysis on the prompt in this process or on the --server session: the command builds the
// request, this runs it (rt::ana::runAnalysis here, the Analyze call there), the command writes the
// document, so its output is the same bytes either way.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "cli_session.h"
#include "cmd_analysis_common.h"
#include "runtime/analysis/analysis_call.h"

namespace ll::cli::ana {

// Called for a local run with the result object (figures are drawn from it).
using LocalResultFn = std::function<void(const rt::Session&, const rt::ana::AnalysisOutput&)>;

// The command's document (without the final newline).
std::string runAnalysisHereOrThere(const ModelPrompt& mp, const ServerTarget& target,
                                   const rt::ana::AnalysisRequest& req,
                                   const LocalResultFn& onLocal = {});

// The array of an analysis's output by name (a server that left one out is an error), and its
// float32 .npy file: the same bytes for a local or a remote run.
const rt::ana::OutputArray& outputArray(const rt::ana::AnalysisOutput& out,
                                        const std::string& name);
void writeArray(const std::filesystem::path& path, const rt::ana::OutputArray& a);

// Figures are drawn from the result object, which a remote run leaves on the server: --figure with
// --server is refused before anything runs (run the command locally for the figure).
void refuseFigureRemote(const ServerTarget& target, const std::string& figurePath,
                        const char* flag = "--figure");

}  // namespace ll::cli::ana
