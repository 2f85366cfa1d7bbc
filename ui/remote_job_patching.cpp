// RemoteAnalysisJob's activation-patching stage: the sweep runs on the server ("patch" on the aux
// session) over the prompt's ids and the corrupted prompt's (tokenized by the server as the prompt
// is), under the prompt run's interventions, with progress per pass; the result is read back from
// the document and arrays and kept per trace and settings, as AnalysisJob keeps it.
#ifdef LAYERLENS_HAVE_REMOTE
#include "runtime/analysis/patch_document.h"
#include "runtime/engine/engine.h"
#include "ui/remote_analysis_job.h"
#include "visualizers/qt/token_label.h"

#include <stdexcept>

namespace ll::ui {

void RemoteAnalysisJob::runPatching(Snapshot& s, const Alive& alive,
                                    const StageProgress& progress) {
  if (!s.trace) return;
  const rt::Trace& tr = *s.trace;
  PatchingCache c;
  c.trace = s.trace;
  c.settings = s.state.patching;
  try {
    rt::ana::PatchCall call;
    call.request =
        patchingRequest(c.settings, [&](const std::string& t) { return resolveTypedToken(t); });
    const rt::ana::PatchingRequest& rq = call.request;
    call.corruptIds =
        corruptedIds(s, m_info.chatFormat, [&](const std::string& text, bool special) {
          return m_aux->tokenize(text, -1, special).ids;
        });
    call.cleanIds = tr.ids;
    std::vector<rt::ana::OutputArray> arrays;
    const std::string doc = analyzeAux(
        "patch", rt::ana::analysisRequestJson(call), panelInterventions(s.state), alive,
        [&](int done, int n) {
          if (progress) progress(StreamedOutput::Patching, done, n);
        },
        &arrays);
    auto r = rt::ana::parsePatchOutput(doc, arrays, rq, tr.ids, call.corruptIds, m_spec);
    c.targetText = vis::tokenLabel(piece(r.request.target));
    c.otherText = vis::tokenLabel(piece(r.request.other));
    c.result = std::make_shared<const rt::ana::PatchingResult>(std::move(r));
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const remote::RemoteError&) {
    throw;  // the connection's failure: the window says so (core's and stream's rethrow)
  } catch (const std::exception& e) {
    c.error = QString::fromUtf8(e.what());
  }
  m_patchCache = std::move(c);
  m_patchCache.fill(s);
}

}  // namespace ll::ui
#endif
