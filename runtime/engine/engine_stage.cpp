// Engine: the pipeline-stage entry points (runtime/dist): the layer range, a stage's pass and the
// reuse decision the pipeline makes once for all stages. The pass itself is Engine::runPass.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "runtime/engine/engine.h"

namespace ll::rt {

void Engine::setLayerRange(int first, int last) {
  const int L = m_model.spec.nLayer;
  if (first < 0 || last > L || first >= last)
    throw std::invalid_argument("layer range [" + std::to_string(first) + ", " +
                                std::to_string(last) + ") is not within the model's " +
                                std::to_string(L) + " layers");
  if (first < m_weights->firstLayer() || last > m_weights->lastLayer())
    throw std::invalid_argument("layer range [" + std::to_string(first) + ", " +
                                std::to_string(last) + "): this engine's weights hold layers [" +
                                std::to_string(m_weights->firstLayer()) + ", " +
                                std::to_string(m_weights->lastLayer()) + ") only");
  resetCache();
  m_first = first;
  m_last = last;
  // The next pass allocates the cache for the new range only.
  for (int l = 0; l < L; ++l) {
    m_k[l] = kern::Buffer();
    m_v[l] = kern::Buffer();
  }
  m_capacity = 0;
}

std::shared_ptr<const Trace> Engine::runStage(const std::vector<int32_t>& ids,
                                              const std::vector<int32_t>& positions,
                                              const Interventions& iv,
                                              const CaptureOptions& capture, const StageIO& io,
                                              const EngineProgress& progress) {
  // An early-exit pass (capture.lastLayer) runs its stages up to the stop layer: a stage wholly
  // after it runs nothing and needs no input, but still trims its cache as one process would.
  const int stop = stopLayer(capture);
  if (m_first > 0 && m_first < stop && !io.input)
    throw std::invalid_argument("pipeline stage: no input residual for layer " +
                                std::to_string(m_first));
  if (m_last < m_model.spec.nLayer && !io.output)
    throw std::invalid_argument("pipeline stage: nowhere to put the residual after layer " +
                                std::to_string(m_last - 1));
  return runPass(ids, positions, iv, capture, progress, io.publish, {}, &io);
}

void Engine::cancelStage(const KeptTrace& before, const std::vector<int32_t>& ids,
                         const std::vector<int32_t>& positions, const Interventions& iv,
                         int reuse) {
  // The rows the pass started from, as far as this cache holds them for these inputs (a stage
  // that never started still holds its previous pass's rows).
  int q = std::clamp(
      reuse, 0,
      std::min({static_cast<int>(ids.size()), static_cast<int>(positions.size()), cachedRows()}));
  for (int i = 0; i < q; ++i)
    if (m_cacheIds[size_t(i)] != ids[size_t(i)] || m_cachePos[size_t(i)] != positions[size_t(i)])
      q = i;
  m_cacheIds.assign(ids.begin(), ids.begin() + q);
  m_cachePos.assign(positions.begin(), positions.begin() + q);
  m_cacheIv = iv;
  m_trace = before.trace;
  m_traceRows = before.trace ? std::min(before.rows, q) : 0;
}

int Engine::plannedReuse(const std::vector<int32_t>& ids, const std::vector<int32_t>& positions,
                         const Interventions& iv, const CaptureOptions& capture) {
  validate(ids, positions, iv);
  const Trace* old = nullptr;
  return reusablePrefix(ids, positions, iv, capture, &old);
}

}  // namespace ll::rt
