// Local or remote analysis runs for the CLI commands (analysis_target.h).
#include "analysis_target.h"

#include <stdexcept>

#include "runtime/api/npy_io.h"

namespace ll::cli::ana {

std::string runAnalysisHereOrThere(const ModelPrompt& mp, const ServerTarget& target,
                                   const rt::ana::AnalysisRequest& req,
                                   const LocalResultFn& onLocal) {
  if (target.remote()) return openPrompted(mp, target)->analyze(req).document;
  auto s = openSession(mp);
  const rt::ana::AnalysisOutput out = rt::ana::runAnalysis(*s, req);
  if (onLocal) onLocal(*s, out);
  return out.document;
}

const rt::ana::OutputArray& outputArray(const rt::ana::AnalysisOutput& out,
                                        const std::string& name) {
  for (const auto& a : out.arrays)
    if (a.name == name) return a;
  throw std::runtime_error("the analysis returned no array '" + name + "'");
}

void writeArray(const std::filesystem::path& path, const rt::ana::OutputArray& a) {
  rt::writeNpy(path, a.data.data(), a.shape);
}

void refuseFigureRemote(const ServerTarget& target, const std::string& figurePath,
                        const char* flag) {
  if (target.remote() && !figurePath.empty())
    throw std::invalid_argument(std::string(flag) +
                                " cannot be used with --server: the figure is drawn from the "
                                "result, which stays on the server; run the command without "
                                "--server to get the figure");
}

}  // namespace ll::cli::ana
