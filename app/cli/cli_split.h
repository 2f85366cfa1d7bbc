// `mpirun -np N layerlens-cli run ...`: the run command's pass split over the MPI ranks
// (runtime/dist). Rank 0 tokenizes, drives the pipeline and writes the output; the other ranks
// serve their stage until rank 0 is done.
#pragma once

#include <memory>
#include <string>

#include "runtime/api/session.h"

namespace ll::cli {

class SplitRun {
 public:
  // Null when the process was not launched with several ranks. Throws when it was but this build
  // has no MPI. timeoutS: the longest wait for another rank.
  static std::unique_ptr<SplitRun> start(double timeoutS);
  virtual ~SplitRun() = default;
  virtual bool isDriver() const = 0;
  // Ranks > 0: serves rank 0's commands with the session's engine; returns the exit code.
  virtual int serve(rt::Session& s) = 0;
  // Rank 0: the session's run() goes through the pipeline.
  virtual void attach(rt::Session& s) = 0;
  // Rank 0: brings a layer's captures / the logits into the last trace.
  virtual void fetchLayer(int l) = 0;
  virtual void fetchHead() = 0;
  // Prints the error and ends every rank (none is left waiting).
  [[noreturn]] virtual void fail(const std::string& why) = 0;
};

}  // namespace ll::cli
