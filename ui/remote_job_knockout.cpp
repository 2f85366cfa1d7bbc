// RemoteAnalysisJob's knockout-effect stage: the server's "knockout" readout of the run's own
// knockout (its layers as set) under the run's router edits, on the aux session holding the
// prompt's ids; kept per trace and readout request, as AnalysisJob keeps it.
#ifdef LAYERLENS_HAVE_REMOTE
#include "runtime/analysis/knockout_document.h"
#include "runtime/engine/engine.h"
#include "ui/remote_analysis_job.h"
#include "visualizers/qt/token_label.h"

#include <stdexcept>

namespace ll::ui {

void RemoteAnalysisJob::runKnockoutEffect(Snapshot& s, const Alive& alive) {
  KnockoutCache& c = m_knockoutCache;
  if (!c.answers(s)) {
    c = {};
    const rt::ana::KnockoutReadoutRequest& rq = s.state.knockoutReadout;
    try {
      const rt::Interventions iv = panelInterventions(s.state);
      if (!iv.knockout) throw std::invalid_argument("the run has no knockout");
      rt::ana::KnockoutCall call;
      call.readout = true;
      call.window = rq.window;
      call.sweep = rq.sweep;
      call.answer = rq.answer;
      m_aux->setPromptIds(s.trace->ids);
      const std::string doc = analyzeAux("knockout", rt::ana::analysisRequestJson(call), iv, alive);
      c = {s.trace, rq,
           std::make_shared<const rt::ana::KnockoutReadout>(
               rt::ana::parseKnockoutDocument(doc, m_spec, rq.sweep)),
           QString()};
    } catch (const rt::Cancelled&) {
      throw;
    } catch (const remote::RemoteError&) {
      throw;
    } catch (const std::exception& e) {
      c = {s.trace, rq, nullptr, QString::fromUtf8(e.what())};
    }
  }
  c.fill(s, [&](int32_t id) { return vis::tokenLabel(piece(id)); });
}

}  // namespace ll::ui
#endif
