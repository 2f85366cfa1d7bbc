// RemoteAnalysisJob: the AnalysisSource over ll::remote::RemoteSession. The server runs the
// prompt; this side fetches only what the panels read (new logit rows, attention map rows past
// the shared prefix, the lens of the selected token and of the grid's columns, queries / keys,
// attention statistics and routing) into the trace's local copy and fills the Snapshot with the
// code the local AnalysisJob uses (snapshot_fill.h), so both give the same bits. Only built with
// gRPC.
#pragma once

#include "remote/remote_session.h"
#include "runtime/analysis/analysis_call.h"
#include "ui/analysis_caches.h"
#include "ui/analysis_source.h"
#include "ui/attribution_step.h"
#include "ui/head_grid_rows.h"
#include "ui/lens_grid.h"
#include "ui/remote_job.h"
#include "ui/snapshot_fill.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ll::ui {

// A failed call's message without the "server HOST:PORT: " the client puts first (the window's
// messages name the server themselves).
QString remoteReason(const remote::RemoteError& e, const QString& where);

class RemoteAnalysisJob : public AnalysisSource {
 public:
  // Connects and opens the model (throws with the reason).
  explicit RemoteAnalysisJob(const RemoteTarget& target);
  ~RemoteAnalysisJob() override;

  const ModelInfo& info() const { return m_info; }
  bool loaded() const override { return m_session != nullptr; }
  std::shared_ptr<Snapshot> core(const ViewState& state, uint64_t generation, const Alive& alive,
                                 const LayerProgress& onLayer = {}) override;
  void stream(const Snapshot& core, const Alive& alive, const Deliver& deliver,
              const StageProgress& progress = {}) override;
  rt::Session* taskSession() override { return nullptr; }
  QString taskRefusal() const override;
  // The maps from the server; with residuals, a copy of the trace with the residual stream read
  // (the snapshots' copy stays as their panels read it). remote_job_exports.cpp
  ExportReads exportReads(const std::shared_ptr<const rt::Trace>& trace, bool residuals) override;

 private:
  // Runs the prompt (or keeps the last run when neither text nor interventions changed) and
  // fetches what the panels read; the trace is complete before any snapshot holds it.
  // ids: the templated prompt's tokens (special tokens parsed); null: the text as typed.
  void runPrompt(const std::string& text, const std::vector<int32_t>* ids,
                 const rt::Interventions& iv, const Alive& alive, const LayerProgress& onLayer);
  std::string piece(int32_t id) const;
  // The model card's parts that come from the server's info document and a run there
  // (remote_job_model_card.cpp): the chat-template family (a name this client knows, else none)
  // and the induction scores, run on `aux` (a session of their own) as AnalysisJob::load runs them.
  static void fillModelCard(const nlohmann::json& infoJson, int32_t bos, const rt::ModelSpec& spec,
                            remote::RemoteSession& aux, ModelInfo& info);
  // Activation patching: the server's "patch" analysis on m_aux under the prompt run's
  // interventions, kept per trace and settings as AnalysisJob keeps it (remote_job_patching.cpp).
  void runPatching(Snapshot& s, const Alive& alive, const StageProgress& progress);
  // Knockout effect: the server's "knockout" readout of the run's knockout on m_aux, kept per
  // trace and readout request (remote_job_knockout.cpp).
  void runKnockoutEffect(Snapshot& s, const Alive& alive);
  // PromptDistill's selection: the server's "select" on m_aux holding the prompt's ids, under the
  // run's interventions; the other methods read the fetched trace (remote_job_answers.cpp).
  rt::ana::SelectionOutcome promptDistillSelection(const rt::ana::SelectionRequest& req,
                                                   const rt::Trace& tr, const rt::Interventions& iv,
                                                   const Alive& alive);
  // The answers from the full prompt and from the kept tokens, decoded on the server as
  // AnalysisJob::fillAnswers decodes them locally; cont: the continuation's ids (complete: it
  // stopped at EOS). (remote_job_answers.cpp)
  void fillAnswers(Snapshot& s, const std::vector<int32_t>& cont, bool contComplete,
                   const Alive& alive);
  // Greedy ids of n tokens after ids on r under iv (rt::Session::generate's greedy decode is
  // ana::greedy's: argmax, lowest id on ties, EOS and the context end stop it); cancellable.
  std::vector<int32_t> greedyIds(remote::RemoteSession& r, const std::vector<int32_t>& ids,
                                 const rt::Interventions& iv, int n, const Alive& alive);
  // Steering (remote_job_steering.cpp): the panel's vector (a saved one as is; a concept or
  // contrastive one by the server's "steer-vector" on m_aux, cached per layer and inputs), its
  // push ratio on the run, and the steered / unsteered continuations.
  std::vector<float> steeringVector(const SteeringSettings& st, int layer, const Alive& alive);
  void fillSteering(Snapshot& s, const std::vector<int32_t>& cont, bool contComplete,
                    const Alive& alive);
  // Expert contrast: the server's "contrast" of the prompt sets on m_aux, kept while the sets are
  // (τ and the layers pick again here) (remote_job_contrast.cpp).
  void runContrast(Snapshot& s, const Alive& alive);
  // The steering readouts' sweeps: the server's "steer-sweep" on m_aux over the prompt session's
  // trace, kept per trace and settings as AnalysisJob keeps them (remote_job_sweep.cpp).
  void runSteerSweep(Snapshot& s, const Alive& alive);
  // The teacher comparison: the server's "compare" on m_aux over the prompt session's trace, its
  // teacher session kept there per path; cached per trace and path (remote_job_teacher.cpp).
  void runTeacher(Snapshot& s, const Alive& alive);
  // A named analysis on m_aux, its document (and arrays when given): a request the server refuses
  // throws std::invalid_argument with its reason, as the analysis throws in process; a lost
  // connection stays a RemoteError, a cancelled call rt::Cancelled. on: the trace it reads
  // (null: it runs the m_aux prompt).
  std::string analyzeAux(const std::string& name, const nlohmann::json& request,
                         const rt::Interventions& iv, const Alive& alive,
                         const std::function<void(int, int)>& onProgress = {},
                         std::vector<rt::ana::OutputArray>* arrays = nullptr,
                         const remote::RemoteTrace* on = nullptr);
  // A token typed as an id or a piece, as resolveToken reads it, over the server's vocabulary.
  int32_t resolveTypedToken(const std::string& text);

  // The analyses the server's Analyze runs on m_aux (remote_job_panels.cpp): attribution and the
  // latent-language plot in core(), the layer skip and flow routes as stream stages (core() fills
  // them only from their caches), as AnalysisJob does.
  using Stages = std::vector<std::pair<StreamedOutput, std::function<void(Snapshot&)>>>;
  void fillAnalyses(Snapshot& s, const Alive& alive);
  // The named analysis's document, run on m_aux over s.trace as the server holds it (m_last); the
  // server's refusal of the request (invalid argument, a document over the message limit) is a
  // std::invalid_argument with its message, what the panel shows.
  nlohmann::json analyze(const rt::ana::AnalysisRequest& req, const Snapshot& s,
                         const Alive& alive);
  // A server's document for `name` parsed as untrusted input: at most a few levels deep (refused
  // as it is read), JSON or a std::invalid_argument naming it.
  static nlohmann::json parseDocument(const std::string& doc, const std::string& name);
  void fillAttribution(Snapshot& s, const Alive& alive);
  void fillLatent(Snapshot& s, const Alive& alive);
  bool layerSkipCached(const Snapshot& s) const;
  void runLayerSkip(Snapshot& s, const Alive& alive);
  void runFlow(Snapshot& s, const Alive& alive);

  RemoteTarget m_target;
  std::unique_ptr<remote::RemoteSession> m_session;  // the prompt's runs only (prefix reuse)
  std::unique_ptr<remote::RemoteSession> m_gen;      // the continuation
  // The analyses that run other token sequences (patching, knockout, ...), so m_session keeps its
  // prefix and m_gen its continuation.
  std::unique_ptr<remote::RemoteSession> m_aux;
  // The steered continuation (its cache keeps the prompt's prefix, as AnalysisJob's m_steer).
  std::unique_ptr<remote::RemoteSession> m_steer;
  ModelInfo m_info;
  rt::ModelSpec m_spec;
  std::vector<std::string> m_pieces;  // every token id's text, read once at connect
  std::string m_lastText;
  rt::Interventions m_lastIv;
  remote::RemoteTrace m_last;                    // the server's id of the last run
  std::shared_ptr<const rt::Trace> m_lastTrace;  // its local copy, complete
  std::vector<float> m_lastEntropy;
  AttentionMapCache m_attnCache;
  LensGridCache m_lensGrid;
  HeadGridCache m_grid;
  PatchingCache m_patchCache;
  std::map<std::string, std::vector<float>> m_steerCache;
  ContrastCache m_contrastCache;
  KnockoutCache m_knockoutCache;
  SteerSweepCache m_sweepCache;
  TeacherCache m_teacherCache;
  AttributionStep m_attribution;  // kept while trace and request are
  struct LatentCache {
    std::shared_ptr<const rt::Trace> trace;
    std::string wordA, wordB;
    std::shared_ptr<const rt::ana::LatentLanguageResult> result;
    QString error;
  } m_latentCache;
  struct LayerSkipCache {
    std::shared_ptr<const rt::Trace> trace;
    rt::SkipPart part = rt::SkipPart::Layer;
    std::shared_ptr<const rt::ana::LayerSkipResult> result;
    rt::ana::LayerSkipPositions positions;  // every position's values: another token re-reads
  } m_skipCache;
  FlowCache m_flowCache;
};

}  // namespace ll::ui
