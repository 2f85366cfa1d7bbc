// RemoteAnalysisJob's steering stage: the Steering panel's vector (computed by the server's
// "steer-vector" analysis on the aux session as AnalysisJob computes it on its own, a saved one
// used as is), its push ratio on the run's residuals at the steered layer (that layer's only are
// read), and the steered / unsteered greedy continuations decoded by the server's tokenizer.
#ifdef LAYERLENS_HAVE_REMOTE
#include "runtime/analysis/document_fields.h"
#include "runtime/analysis/steering.h"
#include "runtime/api/trace.h"
#include "runtime/engine/engine.h"
#include "ui/remote_analysis_job.h"
#include "ui/steering_inputs.h"

#include <algorithm>

namespace ll::ui {

namespace ana = rt::ana;

std::vector<float> RemoteAnalysisJob::steeringVector(const SteeringSettings& st, int layer,
                                                     const Alive& alive) {
  if (st.source == SteerSource::Saved) return savedSteeringVector(st, m_spec.nEmbd);
  const std::string key = steeringVectorKey(st, layer);
  if (auto it = m_steerCache.find(key); it != m_steerCache.end()) return it->second;
  checkSteeringInputs(st);
  ana::SteerVectorCall c;
  c.push = false;  // the vector's passes only: aux's cache as AnalysisJob's m_aux keeps it
  c.layer = layer;
  c.tmpl = kConceptTemplate;
  if (st.source == SteerSource::Concept) {
    c.method = "concept";
    c.conceptWord = st.conceptWord;
    c.baselines = st.baselines;
  } else {
    c.method = "contrastive";
    c.positive = st.positive;
    c.negative = st.negative;
  }
  std::vector<ana::OutputArray> arrays;
  analyzeAux("steer-vector", ana::analysisRequestJson(c), {}, alive, {}, &arrays);
  std::vector<float> v =
      ana::outputArrayOf(arrays, "vector", {m_spec.nEmbd}, "steer-vector document").data;
  if (m_steerCache.size() > 16) m_steerCache.clear();
  m_steerCache[key] = v;
  return v;
}

void RemoteAnalysisJob::fillSteering(Snapshot& s, const std::vector<int32_t>& cont,
                                     bool contComplete, const Alive& alive) {
  s.hasSteering = true;
  const rt::Trace& tr = *s.trace;
  const SteeringSettings& st = s.state.steering;
  s.steerLayer =
      st.layer < 0 ? ana::defaultSteeringLayer(tr.nLayer) : std::clamp(st.layer, 0, tr.nLayer - 1);
  rt::Interventions iv = panelInterventions(s.state);
  try {
    const std::vector<float> v = steeringVector(st, s.steerLayer, alive);
    if (alive && !alive()) throw rt::Cancelled();
    // ana::pushRatio on the run's own residuals at the layer (that layer's only are read).
    if (m_last.trace.get() != s.trace.get()) throw rt::Cancelled();  // a newer run replaced it
    rt::Trace resid;
    resid.nTokens = tr.nTokens;
    resid.nEmbd = tr.nEmbd;
    resid.nLayer = tr.nLayer;
    resid.captured = true;
    resid.layers.resize(size_t(tr.nLayer));
    resid.layers[size_t(s.steerLayer)].resid = m_session->residAfter(m_last, s.steerLayer);
    s.pushRatio = ana::pushRatio(resid, s.steerLayer, v, st.alpha);
    rt::Steering steer{s.steerLayer, st.alpha, std::max(0, st.fromPos), v};
    std::vector<int32_t> plain;
    if (static_cast<int>(cont.size()) >= st.genTokens || contComplete)
      plain.assign(cont.begin(),
                   cont.begin() + std::min<size_t>(size_t(std::max(0, st.genTokens)), cont.size()));
    else
      plain = greedyIds(*m_gen, tr.ids, iv, st.genTokens, alive);
    rt::Interventions steered = iv;
    steered.steering.push_back(steer);
    const std::vector<int32_t> ids = greedyIds(*m_steer, tr.ids, steered, st.genTokens, alive);
    s.unsteered = QString::fromUtf8(m_aux->decode(plain));
    s.steered = QString::fromUtf8(m_aux->decode(ids));
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const remote::RemoteError&) {
    throw;
  } catch (const std::exception& e) {
    s.steeringError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
#endif
