// The worker side of the SessionController on a model in this process (the local AnalysisSource):
// owns the Session (and the per-model caches: lens
// projector, steering vectors) and turns a ViewState into Snapshots. Runs only on the worker
// thread; `alive` is polled between layers and stages so stale work stops early (throws
// rt::Cancelled).
#pragma once

#include "ui/analysis_caches.h"
#include "ui/analysis_source.h"
#include "ui/attribution_step.h"
#include "ui/head_grid_rows.h"
#include "ui/lens_grid.h"
#include "ui/snapshot_fill.h"
#include "ui/view_state.h"

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ll::rt {
class Session;
struct BackendChoice;
namespace ana {
class LensProjector;
}
}  // namespace ll::rt

namespace ll::ui {

class AnalysisJob : public AnalysisSource {
 public:
  static constexpr int kGridTokens = ui::kGridTokens;

  AnalysisJob();
  ~AnalysisJob() override;

  // Loads into a fresh Session; on failure the current one stays (throws with the reason).
  ModelInfo load(const std::string& path, const rt::BackendChoice& backend,
                 const std::function<bool(float, const std::string&)>& progress);
  bool loaded() const override;
  rt::Session& session() { return *m_session; }
  // For work outside the keystroke path (exports): never the prompt's session.
  rt::Session* taskSession() override { return m_aux.get(); }
  // The trace as it is (it holds every capture) and the maps of the task session.
  ExportReads exportReads(const std::shared_ptr<const rt::Trace>& trace, bool residuals) override;

  // Every analysis panel's data from one forward pass (prefix reuse): attention map, head grid,
  // lens, entropy, routing, selection scores, top-k. onLayer hears the pass's progress.
  std::shared_ptr<Snapshot> core(const ViewState& state, uint64_t generation, const Alive& alive,
                                 const LayerProgress& onLayer = {}) override;
  // Then the generation-based outputs, each handed to deliver as soon as it is there (a copy of the
  // previous snapshot with it filled in; the last one complete): the continuation, the answer
  // from the kept tokens, the steered and unsteered continuations. Every decode step polls alive
  // between layers, so a newer request cancels them at once. (analysis_stream.cpp)
  void stream(const Snapshot& core, const Alive& alive, const Deliver& deliver,
              const StageProgress& progress = {}) override;

 private:
  void runSelection(Snapshot& s, const Alive& alive);
  // Layer skip (state.layerSkip): nLayer skipped passes on m_aux, kept while the trace and the
  // sublayer are; another selected token only re-reads them. The passes run as the stream's last
  // stage; core() fills the result only when it is cached. (analysis_layer_skip.cpp)
  void runLayerSkip(Snapshot& s, const Alive& alive);
  bool layerSkipCached(const Snapshot& s) const;
  // Expert contrast (state.contrast): one pass per prompt of both sets on m_aux, kept while the
  // sets are (τ and the layers only pick again); streamed last like the layer skip, core() fills
  // it only from the cache. (analysis_contrast.cpp)
  void runContrast(Snapshot& s, const Alive& alive);
  // Knockout effect (state.knockout): the run without and with the knockout (and the sweep) on
  // m_aux, kept while the trace and the readout request are; streamed last.
  // (analysis_knockout.cpp)
  void runKnockoutEffect(Snapshot& s, const Alive& alive);
  // Steering readouts (state.steerRead): the alpha and layer sweeps of the Steering panel's vector
  // on m_aux, kept while the trace, the vector's settings, layer, alpha, start and token are; run
  // as the stream's last stage, read in core() only from the cache. (analysis_steer_sweep.cpp)
  void runSteerSweep(Snapshot& s, const Alive& alive);
  // Teacher (state.teacher): the second model, loaded here once per path, over the trace's ids;
  // kept while trace and path are; the stream's last stage. (analysis_teacher.cpp)
  void runTeacher(Snapshot& s, const Alive& alive);
  // Flow routes (state.flow): the graph of the whole prompt, kept while the trace and threshold
  // are; computed as the stream's last stage, filled by core() when cached. (analysis_flow.cpp)
  void runFlow(Snapshot& s, const Alive& alive);
  // Activation patching (state.patching): the sweep on m_aux, kept while the trace and the
  // settings are; streamed last, core() fills it only from the cache. (analysis_patching.cpp)
  void runPatching(Snapshot& s, const Alive& alive, const StageProgress& progress);
  std::vector<float> steeringVector(const SteeringSettings& st, int layer);
  void fillAnswers(Snapshot& s, const std::vector<int32_t>& cont, bool contComplete,
                   const Alive& alive);
  void fillSteering(Snapshot& s, const std::vector<int32_t>& cont, bool contComplete,
                    const Alive& alive);

  // Three sessions on one model: the prompt session only ever runs the prompt, so its KV cache
  // keeps the prefix for the next keystroke; generations (continuation, unsteered) go to m_gen,
  // (plus the full-prompt answer), the steered generation to m_steer, and everything that runs
  // other token sequences (kept-token answers, PromptDistill's knockout runs, steering vectors)
  // to m_aux. Each keeps its own cache prefix from one keystroke to the next.
  std::unique_ptr<rt::Session> m_session;
  std::unique_ptr<rt::Session> m_gen;
  std::unique_ptr<rt::Session> m_steer;
  std::unique_ptr<rt::Session> m_aux;
  std::unique_ptr<rt::ana::LensProjector> m_projector;
  ModelInfo m_info;
  std::map<std::string, std::vector<float>> m_steerCache;
  // Last run: reused as is when the prompt and interventions did not change.
  std::string m_lastText;
  rt::Interventions m_lastIv;
  std::shared_ptr<const rt::Trace> m_lastTrace;
  // Output entropy of m_lastTrace: rows the engine reused keep theirs (an [T, V] pass is a large
  // part of a keystroke on a 32k vocabulary).
  std::vector<float> m_lastEntropy;
  LensGridCache m_lensGrid;       // the last logit-lens grid, kept while trace and settings are
  HeadGridCache m_grid;           // the last head grid: its rows are kept while the prefix is
  AttributionStep m_attribution;  // the Attribution panel's terms, kept while trace and request are
  AttentionMapCache m_attnCache;  // the last attention map: its rows are kept while the prefix is
  struct LayerSkipCache {
    std::shared_ptr<const rt::Trace> trace;
    rt::SkipPart part = rt::SkipPart::Layer;
    std::shared_ptr<const rt::ana::LayerSkipResult> result;
  } m_skipCache;
  ContrastCache m_contrastCache;
  KnockoutCache m_knockoutCache;
  SteerSweepCache m_sweepCache;
  std::unique_ptr<rt::BackendChoice> m_backend;  // the last load's, for the teacher
  std::unique_ptr<rt::Session> m_teacher;
  std::string m_teacherPath;
  TeacherCache m_teacherCache;
  FlowCache m_flowCache;
  PatchingCache m_patchCache;
};

}  // namespace ll::ui
