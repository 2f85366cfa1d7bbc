// AnalysisJob's layer-skip stage (ALGORITHMS.md §15): one skipped pass per layer on the helper
// session, under the prompt run's own interventions, cached per trace and sublayer; streamed after
// the generation outputs, so the other panels never wait for its nLayer passes.
#include "runtime/analysis/layer_skip.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "ui/analysis_job.h"

namespace ll::ui {

bool AnalysisJob::layerSkipCached(const Snapshot& s) const {
  const LayerSkipCache& c = m_skipCache;
  return c.result && c.trace == s.trace && c.part == s.state.layerSkip.part;
}

void AnalysisJob::runLayerSkip(Snapshot& s, const Alive& alive) {
  const rt::SkipPart part = s.state.layerSkip.part;
  LayerSkipCache& c = m_skipCache;
  try {
    if (!layerSkipCached(s)) {
      c = {};
      rt::ana::LayerSkipRequest rq;
      rq.position = s.token;
      rq.part = part;
      // The skipped passes run on m_aux: the prompt session's KV cache keeps its prefix for the
      // next keystroke (a skip changes every row, so they reuse no prefix themselves).
      auto r =
          rt::ana::layerSkip(*m_aux, *s.trace, rq, [&](int, int) { return !alive || alive(); });
      c = {s.trace, part, std::make_shared<const rt::ana::LayerSkipResult>(std::move(r))};
    }
    if (c.result->position == s.token) {
      s.layerSkip = c.result;
    } else {
      auto moved = std::make_shared<rt::ana::LayerSkipResult>(*c.result);
      rt::ana::selectPosition(*s.trace, *moved, s.token);
      s.layerSkip = std::move(moved);
    }
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    s.layerSkipError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
