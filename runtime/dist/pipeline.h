// Layer-split (pipeline) execution of one model over the ranks of a Transport: rank r runs the
// contiguous layers splitLayers() gives it with an Engine of its own (its own KV cache), the
// residual stream [n, nEmbd] passes from rank r to r + 1, rank 0 owns the tokenizer and the
// embeddings and the last rank the final norm and LM head. Rank 0 decides the prefix reuse once
// and sends it with the request, so every stage keeps the same rows. Interventions travel whole
// and act where the layer they name runs. Captures stay on the rank that made them; rank 0
// fetches a layer's (or the logits) on request into the trace it returned (fetchLayer, fetchHead:
// `run`), or hands out a trace whose other ranks' tensors fetch themselves on the first read
// (lazyTrace: `serve`). The ranks keep each pass's captures under its number until rank 0 no
// longer refers to it (at most kKeptPasses per session, remote_captures.h).
//
// Several sessions (`serve`: one per client) share the ranks: every command names its session,
// each rank keeps one engine (KV cache, prefix, last pass) per open session, and rank 0 sends one
// command at a time (the caller serialises the drivers of different sessions).
//
// Every wait has a deadline: a rank that died or hangs turns into an error on rank 0 naming it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/api/trace.h"
#include "runtime/dist/remote_captures.h"
#include "runtime/dist/stage_plan.h"
#include "runtime/dist/transport.h"
#include "runtime/dist/wire.h"
#include "runtime/engine/engine.h"

namespace ll::rt::dist {

// Message tags. A cancel has its own tag so it overtakes the queued work; progress (a rank's
// layers done) likewise, so rank 0 reads it while it waits for the status replies.
// kTagActivations carries a hop's header (stage_links.h), kTagPayload its floats when they go
// through host memory, kTagSetup the job's activation route and NCCL id.
enum Tag : int {
  kTagCommand = 1,
  kTagActivations = 2,
  kTagReply = 3,
  kTagData = 4,
  kTagCancel = 5,
  kTagProgress = 6,
  kTagPayload = 7,
  kTagSetup = 8
};

class PayloadChannel;

struct PipelineOptions {
  double timeoutS = 60.0;  // longest wait for any other rank's message during a pass or fetch
  // How the residual's floats travel (the same on every rank); null: host memory over the
  // Transport.
  PayloadChannel* payload = nullptr;
};

// Session 0 is the engine given to servePipeline (one command's pipeline: `run`, `generate`);
// other ids are opened and closed by their drivers (`serve`).
using SessionId = uint64_t;

// Rank 0: runs stage 0 and drives the others.
class PipelineDriver {
 public:
  // engine: rank 0's engine, switched to stage 0's layers. session != 0: opens that session on
  // every other rank with `openSpec` (what their ServeHooks::openEngine reads: model, backend)
  // and throws, naming the rank, when one refuses; the destructor then closes it there.
  PipelineDriver(Transport& t, Engine& engine, PipelineOptions opt = {}, SessionId session = 0,
                 const std::string& openSpec = {});
  ~PipelineDriver();
  PipelineDriver(const PipelineDriver&) = delete;
  PipelineDriver& operator=(const PipelineDriver&) = delete;
  const std::vector<StageRange>& stages() const { return m_stages; }

  // One pass over every stage. The returned trace holds rank 0's metadata and embeddings; its
  // layers and logits are empty until fetchLayer / fetchHead fill them. publish: as Engine::run's
  // (false: generation's passes), on every stage alike. progress (optional): as Engine::run's,
  // called with the layers done on any rank (and asked again while a long layer runs); false
  // cancels the pass between layers on every rank, which throws Cancelled and leaves every
  // stage's cache as one process leaves a cancelled pass (so is a pass that failed on a rank).
  std::shared_ptr<const Trace> run(const std::vector<int32_t>& ids,
                                   const std::vector<int32_t>& positions, const Interventions& iv,
                                   const CaptureOptions& capture,
                                   const std::function<void(Trace&)>& annotate = {},
                                   bool publish = true, const EngineProgress& progress = {});
  // Brings layer l's captures (and its input, the previous layer's resid) into the last trace.
  void fetchLayer(int l);
  // Brings the logits and the final norm from the last rank into the last trace.
  void fetchHead();
  // Brings every layer's captures (when the pass captured) and the logits into the last trace.
  void fetchAll();

  // --- captures left on their ranks (serve) -----------------------------------------------------
  // The last pass's trace with rank 0's own layers copied in and every other tensor (the other
  // ranks' layers, the logits and final norm) fetched from its rank on its first read, from any
  // thread, through the fetch guard. Their small per-layer arrays (attention statistics, routing)
  // come now, with the tensors' sizes: one Describe command per rank. The ranks keep the pass until
  // no trace (or copy) refers to it any more.
  std::shared_ptr<const Trace> lazyTrace();
  // Wraps every fetch a lazy tensor makes (serve: the pipeline's lock and its broken state). Set
  // it before handing out lazy traces read on other threads.
  void setFetchGuard(FetchGuard guard);
  // Fetch commands sent (fetchLayer, fetchHead, lazy reads) and the capture bytes they brought.
  struct FetchStats {
    uint64_t commands = 0;
    uint64_t bytes = 0;
  };
  FetchStats fetchStats() const { return {m_fetchCommands.load(), m_fetchBytes.load()}; }
  // One tensor of a kept pass into dst (a KeptPass's fetch, under the guard).
  void fetchTensor(uint64_t pass, int rank, int layer, CaptureField f, float* dst, size_t count);
  // Session 0: tells every other rank to stop serving (their serve() returns). Other sessions:
  // frees the session's engines on the other ranks.
  void shutdown();
  // Forgets the other ranks without a word (they died or hang: nothing is sent on destruction).
  void abandon() { m_down = true; }

 private:
  int ownerOf(int l) const;
  std::vector<char> header(uint8_t cmd) const;  // a command's first bytes: its kind and session
  void command(int rank, const std::vector<char>& bytes);
  void sendTo(int rank, int tag, const void* data, size_t bytes, const std::string& what);
  std::string rankText(int rank) const;  // "rank 2 (layers 3-4): "
  std::vector<char> reply(int rank, int tag, const std::string& what);
  void flushReleases();  // tells the ranks which kept passes rank 0 let go of
  // The small arrays and tensor sizes of rank r's layers of the last pass, installed in m_trace.
  void describeFrom(int rank, const std::shared_ptr<const KeptPass>& pass);

  Transport& m_t;
  Engine& m_engine;
  PipelineOptions m_opt;
  SessionId m_session = 0;
  std::vector<StageRange> m_stages;
  std::shared_ptr<const Trace> m_stageTrace;  // rank 0's own pass
  std::shared_ptr<Trace> m_trace;             // the assembled trace given out
  std::vector<char> m_fetched;                // per layer: its captures are in m_trace
  bool m_down = false;
  uint64_t m_pass = 0;        // the last pass's number (0: none yet)
  bool m_passShared = false;  // a lazy trace refers to it (its KeptPass releases it)
  std::shared_ptr<FetchLink> m_link = std::make_shared<FetchLink>();
  std::shared_ptr<ReleaseQueue> m_releases = std::make_shared<ReleaseQueue>();
  std::atomic<uint64_t> m_fetchCommands{0}, m_fetchBytes{0};
};

// Ranks 0 (any thread): tells every other rank to stop serving, for a rank 0 that drove sessions
// other than 0 only (`serve`).
void stopServing(Transport& t, const PipelineOptions& opt = {});

struct ServeHooks {
  // Called when a run command arrives (fault-injection tests).
  std::function<void()> beforeRun;
  // Called after each layer this rank runs (tests: a slow rank).
  std::function<void()> afterLayer;
  // An engine for a session rank 0 opens (its driver's openSpec); throws to refuse it. Unset:
  // only session 0 is served.
  std::function<std::shared_ptr<Engine>(const std::string& openSpec)> openEngine;
  // Most sessions open at once besides session 0; one more is refused.
  int maxSessions = 64;
};

// Ranks > 0: serve the driver's commands until it shuts down. engine: session 0's (null: none,
// `serve`).
int servePipeline(Transport& t, Engine* engine, PipelineOptions opt, const ServeHooks& hooks);
// Session 0 only. beforeRun (optional) is called when a run command arrives.
int servePipeline(Transport& t, Engine& engine, PipelineOptions opt = {},
                  const std::function<void()>& beforeRun = {});

}  // namespace ll::rt::dist
