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

void AnalysisJob::runSteerSweep(Snapshot& s, const Alive& alive) {
  SteerSweepCache& c = m_sweepCache;
  try {
    if (!c.answers(s)) {
      c = {};
      const std::vector<float> v = steeringVector(s.state.steering, s.steerLayer);
      if (alive && !alive()) throw rt::Cancelled();
      // On m_aux: the prompt session's KV cache keeps its prefix for the next keystroke; the
      // sweep's own passes reuse the rows before the steering start from one another.
      auto r = rt::ana::steeringSweep(*m_aux, *s.trace, v, steerSweepRequest(s),
                                      [&](int, int) { return !alive || alive(); });
      const rt::Model& m = m_aux->model();
      c = SteerSweepCache(s, std::move(r), [&](int32_t id) {
        return m.tokenizer ? vis::tokenLabel(m.tokenizer->piece(id)) : QString::number(id);
      });
    }
    c.fill(s);
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    s.steerSweepError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
