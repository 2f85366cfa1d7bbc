// AnalysisSource: what the SessionController's worker asks of the model it drives, whether the
// model runs in this process (AnalysisJob) or on a `layerlens-cli serve` server
// (RemoteAnalysisJob): a ViewState in, the same Snapshots out, so the panels cannot tell them
// apart.
#pragma once

#include "ui/view_state.h"

#include <QString>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace ll::rt {
class Session;
struct Trace;
}  // namespace ll::rt

namespace ll::ui {

class AnalysisSource {
 public:
  using Alive = std::function<bool()>;
  using LayerProgress = std::function<void(int layersDone, int nLayer)>;
  using Deliver = std::function<void(std::shared_ptr<const Snapshot>)>;
  // Progress of a streamed stage that runs many passes (activation patching): passes done of
  // total.
  using StageProgress = std::function<void(StreamedOutput what, int done, int total)>;
  // What an export that reads beyond a snapshot gets (the headgrid figure, the headgrid, residual
  // and residuals .npy): the trace, with its residual stream when asked for, and any head's
  // [T, T] attention map of it.
  struct ExportReads {
    std::shared_ptr<const rt::Trace> trace;
    std::function<std::vector<float>(int layer, int head)> attentionMap;
  };

  virtual ~AnalysisSource() = default;

  virtual bool loaded() const = 0;
  // Every analysis panel's data from one forward pass (prefix reuse). alive is polled between
  // layers and stages (a stale request throws rt::Cancelled); onLayer hears the pass's progress.
  virtual std::shared_ptr<Snapshot> core(const ViewState& state, uint64_t generation,
                                         const Alive& alive, const LayerProgress& onLayer = {}) = 0;
  // Then the generation-based outputs, each handed to deliver as soon as it is there (a copy of
  // the previous snapshot with it filled in; the last one complete).
  virtual void stream(const Snapshot& core, const Alive& alive, const Deliver& deliver,
                      const StageProgress& progress = {}) = 0;
  // A local session on the loaded model for work outside the keystroke path (exports that run the
  // runtime), never the prompt's session; nullptr where there is none (taskRefusal says why).
  virtual rt::Session* taskSession() = 0;
  virtual QString taskRefusal() const { return {}; }
  // For an export of `trace` (a snapshot's), on the worker thread; throws with the reason when it
  // cannot (a trace the source no longer holds).
  virtual ExportReads exportReads(const std::shared_ptr<const rt::Trace>& trace,
                                  bool residuals) = 0;
};

}  // namespace ll::ui
