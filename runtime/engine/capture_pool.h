// CapturePool: the host capture buffers of an engine's dead traces, kept for its next pass, so a
// pass does not map, fault in and zero its captures (about 330 MiB for a 1.1B model at 512
// tokens) afresh on one thread while the others wait.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace ll::rt {

struct Trace;

class CapturePool {
 public:
  // A buffer of `count` floats. From the pool when one fits (capacity in [count, count * 5/4]):
  // its contents are then a dead trace's, zeroed only when `zero` (the caller overwrites every
  // element otherwise). Else a fresh one of zeros with 1/16 of spare capacity, so a prompt that
  // grows by a few tokens still fits it on the next pass.
  // LAYERLENS_CAPTURE_POOL_POISON=1 fills reused buffers with NaN instead (a check that every
  // pass overwrites what it claims to: run the tests with it).
  std::vector<float> take(size_t count, bool zero);
  // Keeps `v` for a later take while the pool holds less than its cap, else frees it.
  void give(std::vector<float>&& v) noexcept;
  // Called after a pass has taken its buffers: frees the ones it did not take (another shape)
  // and caps what the pool keeps at `capBytes` (about that pass's captures), at most kMaxBytes.
  void endTakes(size_t capBytes);
  // Held between passes, so an idle process keeps it: a bigger trace (a long prompt on a large
  // model, where faulting in fresh pages costs less beside the pass) is not kept.
  static constexpr size_t kMaxBytes = size_t(1) << 30;
  // Moves every plain host capture of `t` into `pool`.
  static void reclaim(Trace& t, CapturePool& pool) noexcept;

  struct Stats {
    size_t reusedBytes = 0;  // capacity handed out again
    size_t freshBytes = 0;   // capacity newly allocated
    size_t heldBytes = 0;    // capacity held now
  };
  Stats stats() const;

 private:
  const bool m_poison = poisonRequested();
  static bool poisonRequested();
  mutable std::mutex m_mutex;
  std::vector<std::vector<float>> m_free;
  size_t m_capBytes = 0;
  Stats m_stats;
};

// A new trace whose host captures go back to `pool` (while it lives) when the last reference
// to the trace is dropped.
std::shared_ptr<Trace> makePooledTrace(const std::shared_ptr<CapturePool>& pool);

}  // namespace ll::rt
