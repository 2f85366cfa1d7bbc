// RemoteAnalysisJob's expert-contrast stage: the server's "contrast" analysis runs the task and
// neutral prompt sets on the aux session; the result is read back from its document, kept per pair
// of sets, and picked again here when only τ or the layers change, as AnalysisJob does.
#ifdef LAYERLENS_HAVE_REMOTE
#include "runtime/analysis/expert_contrast_parse.h"
#include "runtime/engine/engine.h"
#include "ui/remote_analysis_job.h"

namespace ll::ui {

void RemoteAnalysisJob::runContrast(Snapshot& s, const Alive& alive) {
  const rt::ana::ExpertContrastRequest& rq = s.state.contrast;
  ContrastCache& c = m_contrastCache;
  if (!c.answers(s)) {
    c = {};
    try {
      // No interventions: the frequencies the edits are chosen from.
      const std::string doc = analyzeAux("contrast", rt::ana::analysisRequestJson(rq), {}, alive);
      c = {rq.task, rq.neutral,
           std::make_shared<const rt::ana::ExpertContrastResult>(
               rt::ana::parseExpertContrastJson(doc, rq, m_spec)),
           QString()};
    } catch (const rt::Cancelled&) {
      throw;
    } catch (const remote::RemoteError&) {
      throw;
    } catch (const std::exception& e) {
      c = {rq.task, rq.neutral, nullptr, QString::fromUtf8(e.what())};
    }
  }
  c.fill(s);
}

}  // namespace ll::ui
#endif
