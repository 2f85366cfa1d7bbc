// RemoteAnalysisJob: the AnalysisSource over ll::remote::RemoteSession. The server runs the
// prompt; this side fetches only what the panels read (new logit rows, attention map rows past
// the shared prefix, the lens of the selected token and of the grid's columns, queries / keys,
// attention statistics and routing) into the trace's local copy and fills the Snapshot with the
// code the local AnalysisJob uses (snapshot_fill.h), so both give the same bits. Outputs that need
// a local session say "not available on a remote session". Only built with gRPC.
#pragma once

#include "remote/remote_session.h"
#include "ui/analysis_source.h"
#include "ui/head_grid_rows.h"
#include "ui/lens_grid.h"
#include "ui/remote_job.h"
#include "ui/snapshot_fill.h"

#include <map>
#include <memory>
#include <string>
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

 private:
  // Runs the prompt (or keeps the last run when neither text nor interventions changed) and
  // fetches what the panels read; the trace is complete before any snapshot holds it.
  void runPrompt(const std::string& text, const rt::Interventions& iv, const Alive& alive,
                 const LayerProgress& onLayer);
  std::string piece(int32_t id) const;
  // The notices of the outputs a remote session cannot fill.
  void fillUnavailable(Snapshot& s) const;

  RemoteTarget m_target;
  std::unique_ptr<remote::RemoteSession> m_session;  // the prompt's runs only (prefix reuse)
  std::unique_ptr<remote::RemoteSession> m_gen;      // the continuation
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
};

}  // namespace ll::ui
