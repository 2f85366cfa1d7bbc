// AnalysisJob's flow-routes stage (ALGORITHMS.md §14): the graph of the whole prompt under the
// run's own interventions, cached per trace and threshold and streamed after the other outputs;
// the panel walks the routes to the selected token itself, so a new selection costs nothing here.
#include "runtime/analysis/flow_routes.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "ui/analysis_job.h"

namespace ll::ui {

void AnalysisJob::runFlow(Snapshot& s, const Alive& alive) {
  FlowCache& c = m_flowCache;
  try {
    if (!c.answers(s)) {
      c = {};
      rt::ana::FlowRequest rq;
      rq.threshold = s.state.flow.threshold;
      // Reads the trace and the weights only (no pass): the prompt session's engine serves, and
      // its KV cache is untouched. Cancelled between blocks of destinations.
      auto g = rt::ana::flowGraph(m_session->engine(), *s.trace, rq,
                                  [&](int, int) { return !alive || alive(); });
      c = {s.trace, rq.threshold, std::make_shared<const rt::ana::FlowGraph>(std::move(g))};
    }
    s.flow = c.graph;
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    s.flowError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
