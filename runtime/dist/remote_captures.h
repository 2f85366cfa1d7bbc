// The captures of a pipeline pass that stay on the ranks that made them (serve): rank 0's handle
// on a kept pass (KeptPass, released on the ranks once no trace refers to it) and the lazy source
// that fetches one of its tensors on the first read (RemoteTensor).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/api/lazy_source.h"
#include "runtime/api/trace.h"

namespace ll::rt::dist {

class PipelineDriver;

// A captured array of a pass: a layer's tensors, or (layer -1) the head's on the last rank.
enum class CaptureField : uint8_t {
  Resid,
  ResidMid,
  QTail,
  K,
  AttnOut,
  MlpOut,
  HeadOut,
  Logits,
  FinalNorm
};
constexpr int kLayerFields = 7;  // Resid .. HeadOut
constexpr int kFields = 9;

// A layer field's tensor (Resid .. HeadOut).
TraceTensor<float>& captureOf(LayerTrace& L, CaptureField f);
const TraceTensor<float>& captureOf(const LayerTrace& L, CaptureField f);
// Any field's tensor in a trace (Logits and FinalNorm ignore `layer`; a layer out of range throws).
const TraceTensor<float>& captureOf(const Trace& tr, int layer, CaptureField f);

// The most passes of one session a rank keeps at once; a newer one drops the oldest. A read of a
// dropped pass is an error naming it.
constexpr size_t kKeptPasses = 8;

// Passes rank 0 no longer refers to; the driver sends them to the ranks with its next command
// (never from the destructor that queued them: that may run on any thread, under any lock).
class ReleaseQueue {
 public:
  void push(uint64_t pass) {
    std::lock_guard<std::mutex> lock(m_mu);
    m_passes.push_back(pass);
  }
  std::vector<uint64_t> take() {
    std::lock_guard<std::mutex> lock(m_mu);
    return std::exchange(m_passes, {});
  }

 private:
  std::mutex m_mu;
  std::vector<uint64_t> m_passes;
};

// Runs one fetch with the transport to itself: the caller's lock around every command of the
// pipeline (serve: the one lock of all sessions), which also turns a dead rank into a broken
// pipeline. Unset: the fetch runs as it is (the caller serialises commands otherwise).
using FetchGuard = std::function<void(const std::function<void()>&)>;

// What a kept pass fetches through: its driver while the session is open.
struct FetchLink {
  std::mutex mutex;  // taken inside the guard; the driver's destructor takes it to detach
  PipelineDriver* driver = nullptr;
  FetchGuard guard;
};

// Rank 0's reference to a pass whose captures stay on the other ranks. Shared by every lazy
// tensor of the pass's trace (and its copies): when the last goes, the pass is queued for
// release.
class KeptPass {
 public:
  KeptPass(uint64_t pass, std::weak_ptr<FetchLink> link, std::shared_ptr<ReleaseQueue> releases)
      : m_pass(pass), m_link(std::move(link)), m_releases(std::move(releases)) {}
  ~KeptPass() { m_releases->push(m_pass); }
  KeptPass(const KeptPass&) = delete;
  KeptPass& operator=(const KeptPass&) = delete;
  uint64_t id() const { return m_pass; }
  // Fetches `count` floats of one tensor from `rank` (any thread; blocks for the fetch only).
  // Throws when the session was closed, the rank no longer keeps the pass, or the pipeline broke.
  void fetch(int rank, int layer, CaptureField f, float* dst, size_t count) const;

 private:
  uint64_t m_pass;
  std::weak_ptr<FetchLink> m_link;
  std::shared_ptr<ReleaseQueue> m_releases;
};

// One tensor of a kept pass, fetched on its first host read.
class RemoteTensor : public LazySource {
 public:
  RemoteTensor(std::shared_ptr<const KeptPass> pass, int rank, int layer, CaptureField f)
      : m_pass(std::move(pass)), m_rank(rank), m_layer(layer), m_field(f) {}
  void fill(void* dst, size_t bytes) const override {
    m_pass->fetch(m_rank, m_layer, m_field, static_cast<float*>(dst), bytes / sizeof(float));
  }

 private:
  std::shared_ptr<const KeptPass> m_pass;
  int m_rank, m_layer;
  CaptureField m_field;
};

}  // namespace ll::rt::dist
