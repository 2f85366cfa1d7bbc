// AnalysisJob's activation-patching stage (ALGORITHMS.md §12): the prompt is the clean run, the
// panel's second prompt (tokenized as the prompt is) or its noise span the corruption; the sweep
// runs on the helper session under the prompt run's interventions, cancellable between passes,
// and is kept per trace and settings, so a token or layer click re-reads it.
#include "runtime/analysis/patching.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/analysis_job.h"
#include "ui/attribution_step.h"
#include "ui/prompt_text.h"
#include "visualizers/qt/token_label.h"

namespace ll::ui {

void AnalysisJob::runPatching(Snapshot& s, const Alive& alive, const StageProgress& progress) {
  if (!s.trace) return;
  const rt::Trace& tr = *s.trace;
  const rt::Model& m = m_session->model();
  PatchingCache c;
  c.trace = s.trace;
  c.settings = s.state.patching;
  try {
    const rt::ana::PatchingRequest rq = patchingRequest(
        c.settings, [&](const std::string& t) { return resolveToken(*m_session, t); });
    const std::vector<int32_t> corrupt =
        corruptedIds(s, m_info.chatFormat, [&](const std::string& text, bool special) {
          return m.tokenizer->encode(text, -1, special).ids;
        });
    // On m_aux: the prompt session's KV cache keeps its prefix for the next keystroke.
    auto r = rt::ana::activationPatching(*m_aux, tr.ids, corrupt, rq, panelInterventions(s.state),
                                         [&](int done, int n) {
                                           if (progress)
                                             progress(StreamedOutput::Patching, done, n);
                                           return !alive || alive();
                                         });
    c.targetText = vis::tokenLabel(m.tokenizer->piece(r.request.target));
    c.otherText = vis::tokenLabel(m.tokenizer->piece(r.request.other));
    c.result = std::make_shared<const rt::ana::PatchingResult>(std::move(r));
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    c.error = QString::fromUtf8(e.what());
  }
  m_patchCache = std::move(c);
  m_patchCache.fill(s);
}

}  // namespace ll::ui
