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

bool AnalysisJob::patchingCached(const Snapshot& s) const {
  const PatchingCache& c = m_patchCache;
  return (c.result || !c.error.isEmpty()) && s.trace && c.trace == s.trace &&
         c.settings == s.state.patching;
}

void AnalysisJob::fillPatchingFromCache(Snapshot& s) const {
  const PatchingCache& c = m_patchCache;
  s.patching = c.result;
  s.patchingError = c.error;
  s.patchingTargetText = c.targetText;
  s.patchingOtherText = c.otherText;
}

void AnalysisJob::runPatching(Snapshot& s, const Alive& alive, const StageProgress& progress) {
  if (!s.trace) return;
  const PatchingSettings& ps = s.state.patching;
  const rt::Trace& tr = *s.trace;
  const rt::Model& m = m_session->model();
  PatchingCache c;
  c.trace = s.trace;
  c.settings = ps;
  try {
    rt::ana::PatchingRequest rq;
    rq.component = ps.component;
    rq.metric = ps.metric;
    rq.direction = ps.direction;
    if (!ps.target.empty()) rq.target = resolveToken(*m_session, ps.target);
    if (!ps.other.empty()) rq.other = resolveToken(*m_session, ps.other);
    std::vector<int32_t> corrupt;
    if (ps.noise) {
      rq.noiseBegin = ps.noiseBegin;
      rq.noiseEnd = ps.noiseEnd;
    } else {
      if (ps.corrupt.empty())
        throw std::invalid_argument("type a corrupted prompt (or choose noise on a token span)");
      // Tokenized as the prompt is (chat template included), so equal lengths line up.
      const bool templ = s.state.chatTemplate && !m_info.chatFormat.isEmpty();
      const TemplatedPrompt tp =
          templ ? applyChatTemplate(m_info.chatFormat, ps.corrupt) : TemplatedPrompt{ps.corrupt, 0};
      corrupt = m.tokenizer->encode(tp.text, -1, templ).ids;
      if (corrupt.size() != tr.ids.size())
        throw std::invalid_argument(
            "the corrupted prompt has " + std::to_string(corrupt.size()) +
            " tokens and the prompt " + std::to_string(tr.ids.size()) +
            ": they must have the same number of tokens (edit a word for one of equal length)");
    }
    rt::Interventions iv;
    iv.router = s.state.routerEdits;
    iv.knockout = s.state.knockout;
    // On m_aux: the prompt session's KV cache keeps its prefix for the next keystroke.
    auto r = rt::ana::activationPatching(*m_aux, tr.ids, corrupt, rq, iv, [&](int done, int n) {
      if (progress) progress(StreamedOutput::Patching, done, n);
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
  fillPatchingFromCache(s);
}

}  // namespace ll::ui
