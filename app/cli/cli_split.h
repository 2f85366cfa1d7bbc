// `mpirun -np N layerlens-cli run|generate|serve ...`: a command's passes split over the MPI ranks
// (runtime/dist). Rank 0 tokenizes, drives the pipeline and writes the output (or serves the
// clients); the other ranks compute their stage until rank 0 is done.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "runtime/api/session.h"
#include "runtime/dist/stage_plan.h"

namespace ll::cli {

class SplitRun {
 public:
  // Null when the process was not launched with several ranks. Throws when it was but this build
  // has no MPI. timeoutS: the longest wait for another rank.
  static std::unique_ptr<SplitRun> start(double timeoutS);
  virtual ~SplitRun() = default;
  virtual bool isDriver() const = 0;
  // This rank's share of the weights (its stage's layers; rank 0 also what it reads of the
  // others': `serving` selects the analyses' set over the queries' path, see WeightScope).
  virtual rt::StageShare share(bool serving) const = 0;
  // Ranks > 0: serves rank 0's commands with the session's engine; returns the exit code.
  virtual int serve(rt::Session& s) = 0;
  // Rank 0: every pass on the session's engine goes through the pipeline (run(), generate();
  // generation's unpublished passes come back with their logits).
  virtual void attach(rt::Session& s) = 0;
  // Rank 0: brings a layer's captures / the logits into the last trace.
  virtual void fetchLayer(int l) = 0;
  virtual void fetchHead() = 0;
  // Prints the error and ends every rank (none is left waiting).
  [[noreturn]] virtual void fail(const std::string& why) = 0;

  // `serve`. The server's sessions share the ranks: each has its own stage (engine, KV cache,
  // prefix, kept passes) on every rank, under a session id in every command; rank 0 sends one
  // command at a time whichever client thread asks.
  using EngineOpener = std::function<std::shared_ptr<rt::Engine>(const std::string& openSpec)>;
  // Ranks > 0: serves every session rank 0 opens, each on the engine `open` makes from the spec
  // rank 0 sent (at most maxSessions at once), until rank 0 stops serving.
  virtual int serveSessions(const EngineOpener& open, int maxSessions) = 0;
  // Rank 0: every pass on s's engine (runs, generation, the analyses' passes) goes through the
  // pipeline as a session of its own, opened on every rank with openSpec. A pass returns with rank
  // 0's own layers and the other layers' small arrays (attention statistics, routing); the other
  // ranks' tensors and the logits stay where they were made and are fetched, one tensor at a time
  // under the pipeline's lock, the first time any thread reads them (PipelineDriver::lazyTrace);
  // the ranks keep a pass until rank 0 drops its last trace of it. The handle closes the session
  // on the ranks when it goes. Throws (naming the rank) when a rank refuses the session.
  // stages (optional): the layers each rank runs for this session.
  virtual std::shared_ptr<void> attachSession(rt::Session& s, const std::string& openSpec,
                                              std::vector<rt::dist::StageRange>* stages) = 0;
  // Rank 0: called once, from the thread whose pass found it, when a rank died or hangs; every
  // later pass is refused with that reason.
  virtual void onBroken(std::function<void(const std::string& why)> f) = 0;
  virtual std::string broken() const = 0;  // "" while every rank answers
  // Rank 0: tells the other ranks to stop serving (after the last session closed).
  virtual void stopServing() = 0;
};

}  // namespace ll::cli
