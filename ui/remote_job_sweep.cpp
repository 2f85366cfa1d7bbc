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

bool RemoteAnalysisJob::steerSweepCached(const Snapshot& s) const {
  const SteerSweepCache& c = m_sweepCache;
  return c.result && c.trace == s.trace && c.steering == steerSweepKey(s.state.steering) &&
         c.layer == s.steerLayer && c.position == s.token &&
         c.layerSweep == s.state.steerRead.layerSweep;
}

void RemoteAnalysisJob::runSteerSweep(Snapshot& s, const Alive& alive) {
  SteerSweepCache& c = m_sweepCache;
  try {
    if (!steerSweepCached(s)) {
      c = {};
      const SteeringSettings& st = s.state.steering;
      rt::ana::SteerSweepCall call;
      call.vector = steeringVector(st, s.steerLayer, alive);
      if (alive && !alive()) throw rt::Cancelled();
      rt::ana::SteeringSweepRequest& rq = call.request;
      rq.layer = s.steerLayer;
      rq.alpha = st.alpha;
      rq.fromPos = std::max(0, st.fromPos);
      rq.position = s.token;
      rq.layerSweep = s.state.steerRead.layerSweep;
      auto r = rt::ana::parseSteeringSweepJson(analyze(call, s, alive), m_spec.nLayer, s.nTokens,
                                               m_spec.nVocab);
      // The document answers this request (the parser checked its shape, not its settings).
      if (r.layer != rq.layer || r.position != rq.position || r.fromPos != rq.fromPos ||
          r.alpha != rq.alpha || r.layerKl.empty() == rq.layerSweep)
        throw std::invalid_argument("steer-sweep document: the sweep is not the request's");
      const auto label = [&](int32_t id) { return vis::tokenLabel(piece(id)); };
      const QString baseTop1 = label(r.top1Base);
      QStringList top1, layerTop1;
      for (int32_t id : r.top1) top1 << label(id);
      for (int32_t id : r.layerTop1) layerTop1 << label(id);
      c = {s.trace,       steerSweepKey(st),
           s.steerLayer,  s.token,
           rq.layerSweep, std::make_shared<const rt::ana::SteeringSweepResult>(std::move(r)),
           baseTop1,      top1,
           layerTop1};
    }
    s.steerSweep = c.result;
    s.steerSweepBaseTop1 = c.baseTop1;
    s.steerSweepTop1 = c.top1;
    s.steerSweepLayerTop1 = c.layerTop1;
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
