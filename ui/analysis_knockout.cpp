// AnalysisJob's knockout-effect stage (ALGORITHMS.md §10): the prompt without and with the
// attention panel's knockout (and, with the sweep, the same token groups in a window centred on
// each layer) on the helper session, cached per trace and readout request; streamed last.
#include "runtime/analysis/knockout.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/analysis_job.h"
#include "visualizers/qt/token_label.h"

#include <stdexcept>

namespace ll::ui {

void AnalysisJob::runKnockoutEffect(Snapshot& s, const Alive& alive) {
  KnockoutCache& c = m_knockoutCache;
  if (!c.answers(s)) {
    c = {};
    const rt::Trace& tr = *s.trace;
    const rt::Interventions& iv = tr.request.interventions;
    try {
      if (!iv.knockout) throw std::invalid_argument("the run has no knockout");
      // On m_aux: the prompt session's KV cache keeps its prefix for the next keystroke.
      auto r = rt::ana::knockoutReadout(*m_aux, tr.ids, iv, *iv.knockout, s.state.knockoutReadout,
                                        [&](int, int) { return !alive || alive(); });
      c = {s.trace, s.state.knockoutReadout,
           std::make_shared<const rt::ana::KnockoutReadout>(std::move(r)), QString()};
    } catch (const rt::Cancelled&) {
      throw;
    } catch (const std::exception& e) {
      c = {s.trace, s.state.knockoutReadout, nullptr, QString::fromUtf8(e.what())};
    }
  }
  const rt::Model& m = m_session->model();
  c.fill(s, [&](int32_t id) {
    return m.tokenizer ? vis::tokenLabel(m.tokenizer->piece(id)) : QString::number(id);
  });
}

}  // namespace ll::ui
