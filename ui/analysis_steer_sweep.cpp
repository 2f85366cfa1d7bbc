// AnalysisJob's steering-readouts stage (ALGORITHMS.md §8): the alpha and layer sweeps of the
// Steering panel's vector at the selected token, on the helper session under the prompt run's own
// interventions, cached per trace and settings; streamed last, so no other panel waits for them.
#include "runtime/analysis/steering_sweep.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/analysis_job.h"
#include "ui/steering_inputs.h"
#include "visualizers/qt/token_label.h"

namespace ll::ui {

bool AnalysisJob::steerSweepCached(const Snapshot& s) const {
  const SteerSweepCache& c = m_sweepCache;
  return c.result && c.trace == s.trace && c.steering == steerSweepKey(s.state.steering) &&
         c.layer == s.steerLayer && c.position == s.token &&
         c.layerSweep == s.state.steerRead.layerSweep;
}

void AnalysisJob::runSteerSweep(Snapshot& s, const Alive& alive) {
  SteerSweepCache& c = m_sweepCache;
  try {
    if (!steerSweepCached(s)) {
      c = {};
      const SteeringSettings& st = s.state.steering;
      const std::vector<float> v = steeringVector(st, s.steerLayer);
      if (alive && !alive()) throw rt::Cancelled();
      rt::ana::SteeringSweepRequest rq;
      rq.layer = s.steerLayer;
      rq.alpha = st.alpha;
      rq.fromPos = std::max(0, st.fromPos);
      rq.position = s.token;
      rq.layerSweep = s.state.steerRead.layerSweep;
      // On m_aux: the prompt session's KV cache keeps its prefix for the next keystroke; the
      // sweep's own passes reuse the rows before the steering start from one another.
      auto r = rt::ana::steeringSweep(*m_aux, *s.trace, v, rq,
                                      [&](int, int) { return !alive || alive(); });
      const rt::Model& m = m_aux->model();
      const auto label = [&](int32_t id) {
        return m.tokenizer ? vis::tokenLabel(m.tokenizer->piece(id)) : QString::number(id);
      };
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
  } catch (const std::exception& e) {
    s.steerSweepError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
