// RemoteAnalysisJob's steering-readouts stage: the alpha and layer sweeps of the Steering panel's
// vector at the selected token, run by the server's "steer-sweep" on m_aux over the prompt
// session's own trace (its interventions in every steered pass), read back with the checked
// parser and cached per trace and settings as AnalysisJob caches them.
#ifdef LAYERLENS_HAVE_REMOTE
#include "runtime/analysis/steering_sweep.h"
#include "runtime/engine/engine.h"
#include "ui/remote_analysis_job.h"
#include "ui/steering_inputs.h"
#include "visualizers/qt/token_label.h"

#include <algorithm>
#include <stdexcept>

namespace ll::ui {

void RemoteAnalysisJob::runSteerSweep(Snapshot& s, const Alive& alive) {
  SteerSweepCache& c = m_sweepCache;
  try {
    if (!c.answers(s)) {
      c = {};
      rt::ana::SteerSweepCall call;
      call.vector = steeringVector(s.state.steering, s.steerLayer, alive);
      if (alive && !alive()) throw rt::Cancelled();
      const rt::ana::SteeringSweepRequest& rq = call.request = steerSweepRequest(s);
      auto r = rt::ana::parseSteeringSweepJson(analyze(call, s, alive), m_spec.nLayer, s.nTokens,
                                               m_spec.nVocab);
      // The document answers this request (the parser checked its shape, not its settings).
      if (r.layer != rq.layer || r.position != rq.position || r.fromPos != rq.fromPos ||
          r.alpha != rq.alpha || r.layerKl.empty() == rq.layerSweep)
        throw std::invalid_argument("steer-sweep document: the sweep is not the request's");
      c = SteerSweepCache(s, std::move(r), [&](int32_t id) { return vis::tokenLabel(piece(id)); });
    }
    c.fill(s);
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const remote::RemoteError&) {
    throw;  // the connection's failure: the window's error, not the panel's
  } catch (const std::exception& e) {
    s.steerSweepError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
#endif
