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

bool RemoteAnalysisJob::patchingCached(const Snapshot& s) const {
  const PatchingCache& c = m_patchCache;
  return (c.result || !c.error.isEmpty()) && s.trace && c.trace == s.trace &&
         c.settings == s.state.patching;
}

void RemoteAnalysisJob::fillPatchingFromCache(Snapshot& s) const {
  const PatchingCache& c = m_patchCache;
  s.patching = c.result;
  s.patchingError = c.error;
  s.patchingTargetText = c.targetText;
  s.patchingOtherText = c.otherText;
}

void RemoteAnalysisJob::runPatching(Snapshot& s, const Alive& alive,
                                    const StageProgress& progress) {
  if (!s.trace) return;
  const PatchingSettings& ps = s.state.patching;
  const rt::Trace& tr = *s.trace;
  PatchingCache c;
  c.trace = s.trace;
  c.settings = ps;
  try {
    rt::ana::PatchCall call;
    rt::ana::PatchingRequest& rq = call.request;
    rq.component = ps.component;
    rq.metric = ps.metric;
    rq.direction = ps.direction;
    if (!ps.target.empty()) rq.target = resolveTypedToken(ps.target);
    if (!ps.other.empty()) rq.other = resolveTypedToken(ps.other);
    if (ps.noise) {
      rq.noiseBegin = ps.noiseBegin;
      rq.noiseEnd = ps.noiseEnd;
    } else {
      if (ps.corrupt.empty())
        throw std::invalid_argument("type a corrupted prompt (or choose noise on a token span)");
      // Tokenized as core() tokenizes the prompt (as typed), so equal lengths line up.
      call.corruptIds = m_aux->tokenize(ps.corrupt, -1, false).ids;
      if (call.corruptIds.size() != tr.ids.size())
        throw std::invalid_argument(
            "the corrupted prompt has " + std::to_string(call.corruptIds.size()) +
            " tokens and the prompt " + std::to_string(tr.ids.size()) +
            ": they must have the same number of tokens (edit a word for one of equal length)");
    }
    call.cleanIds = tr.ids;
    rt::Interventions iv;
    iv.router = s.state.routerEdits;
    iv.knockout = s.state.knockout;
    std::vector<rt::ana::OutputArray> arrays;
    const std::string doc = analyzeAux(
        "patch", rt::ana::analysisRequestJson(call), iv, alive,
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
  fillPatchingFromCache(s);
}

}  // namespace ll::ui
#endif
