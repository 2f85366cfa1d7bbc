// AnalysisJob's expert-contrast stage (ALGORITHMS.md §9): one pass per prompt of the task and
// neutral sets on the helper session, cached per pair of sets (τ and the layers only pick again);
// streamed last, so the other panels never wait for its passes.
#include "runtime/analysis/expert_contrast.h"
#include "runtime/engine/engine.h"
#include "ui/analysis_job.h"

#include <algorithm>
#include <cctype>

namespace ll::ui {

namespace {
bool anyPrompt(const std::vector<std::string>& set) {
  return std::any_of(set.begin(), set.end(), [](const std::string& p) {
    return std::any_of(p.begin(), p.end(), [](unsigned char c) { return !std::isspace(c); });
  });
}
}  // namespace

bool contrastWanted(const rt::ana::ExpertContrastRequest& request) {
  return anyPrompt(request.task) && anyPrompt(request.neutral);
}

void AnalysisJob::runContrast(Snapshot& s, const Alive& alive) {
  const rt::ana::ExpertContrastRequest& rq = s.state.contrast;
  ContrastCache& c = m_contrastCache;
  if (!c.answers(s)) {
    c = {};
    try {
      // On m_aux: the prompt session's KV cache keeps its prefix for the next keystroke.
      auto r = rt::ana::expertContrast(*m_aux, rq, [&](int, int) { return !alive || alive(); });
      c = {rq.task, rq.neutral, std::make_shared<const rt::ana::ExpertContrastResult>(std::move(r)),
           QString()};
    } catch (const rt::Cancelled&) {
      throw;
    } catch (const std::exception& e) {
      c = {rq.task, rq.neutral, nullptr, QString::fromUtf8(e.what())};
    }
  }
  c.fill(s);
}

}  // namespace ll::ui
