// A computing rank's state for one session (its engine, the stage plan, the passes whose captures
// it keeps for rank 0) and the replies to rank 0's fetch commands (pipeline_serve_fetch.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/dist/pipeline_commands.h"

namespace ll::rt::dist::detail {

// The passes of one session whose captures this rank keeps, by rank 0's pass number: each until
// rank 0 releases it, at most kKeptPasses (a newer one drops the oldest).
class KeptTraces {
 public:
  void keep(uint64_t pass, std::shared_ptr<const Trace> tr);
  void release(uint64_t pass) { m_passes.erase(pass); }
  // The pass's trace; throws, saying why, when this rank does not keep it.
  const Trace& at(uint64_t pass) const;
  size_t size() const { return m_passes.size(); }

 private:
  std::map<uint64_t, std::shared_ptr<const Trace>> m_passes;
  uint64_t m_droppedUpTo = 0;  // the newest pass the bound dropped
};

// One session's stage on this rank.
struct Stage {
  std::shared_ptr<Engine> engine;
  std::vector<StageRange> stages;
  KeptTraces kept;
};

// Replies (on kTagData) to the fetch commands; `rd` is past the command header. st: null for a
// session this rank does not hold. Release sends nothing back.
std::vector<char> layerReply(const Stage* st, int rank, WireReader& rd);
std::vector<char> headReply(const Stage* st, bool lastStage, WireReader& rd);
std::vector<char> describeReply(const Stage* st, int rank, bool lastStage, WireReader& rd);
std::vector<char> tensorReply(const Stage* st, int rank, bool lastStage, WireReader& rd);
void releasePasses(Stage* st, WireReader& rd);

}  // namespace ll::rt::dist::detail
