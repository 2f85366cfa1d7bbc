// A pass's watch over the pipeline ranks (runtime/dist): the pass's number on the wire, the
// later ranks' per-layer progress messages and their between-layer check for a cancel, and rank
// 0's wait for the status replies, which reports that progress and sends the cancel.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "runtime/dist/pipeline.h"

namespace ll::rt::dist::detail {

// Which pass a cancel or progress message is about: one of an earlier pass or another session
// is stale and dropped, never applied to the pass running now.
struct PassId {
  SessionId session = 0;
  uint64_t pass = 0;
  bool operator==(const PassId&) const = default;
};

// What a run command carries after its header, before the request (whose `pass` numbers the
// pass): whether rank 0 watches it (a caller's progress: the later ranks then report their
// layers and check for a cancel).
struct PassHeader {
  bool watched = false;
};
void writePass(WireWriter& w, const PassHeader& p);
PassHeader readPass(WireReader& r);

// Ranks > 0, between the layers of a watched pass.
class StageWatch {
 public:
  StageWatch(Transport& t, PassId id, double timeoutS) : m_t(t), m_id(id), m_timeoutS(timeoutS) {}
  // Tells rank 0 how many of the model's layers are done (this stage's first layer counted).
  void progress(int layersDone);
  // Whether rank 0 cancelled this pass; reads every waiting cancel, dropping stale ones (rank 0
  // starts a pass only after the last one ended, so none can be for a later pass).
  bool cancelled();

 private:
  Transport& m_t;
  PassId m_id;
  double m_timeoutS;
  bool m_cancelled = false;
};

// Rank 0's wait for the status replies of ranks 1..N-1 to pass `id`.
struct StatusWait {
  std::vector<std::vector<char>> replies;  // per rank (index 0 unused)
  bool cancelled = false;                  // the caller's progress said stop (or threw)
  std::exception_ptr progressError;        // what the caller's progress threw, if it did
};
// progress (may be empty): called with (layersDone, total) as the ranks report layers, and again
// every kAskS while none does (a long layer); when it returns false (or throws) a cancel goes
// once to every rank that has not replied. alreadyCancelled: rank 0's own stage was cancelled
// (the others stop as failed upstream; no cancel is sent). Throws TransportError, its text led
// by rankText(r), when no rank still running sent anything within timeoutS.
StatusWait awaitStatus(Transport& t, PassId id, const EngineProgress& progress, int layersDone,
                       int total, double timeoutS, const std::function<std::string(int)>& rankText,
                       bool alreadyCancelled);

constexpr double kAskS = 0.05;

}  // namespace ll::rt::dist::detail
