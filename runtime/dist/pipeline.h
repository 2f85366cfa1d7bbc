// Layer-split (pipeline) execution of one model over the ranks of a Transport: rank r runs the
// contiguous layers splitLayers() gives it with an Engine of its own (its own KV cache), the
// residual stream [n, nEmbd] passes from rank r to r + 1, rank 0 owns the tokenizer and the
// embeddings and the last rank the final norm and LM head. Rank 0 decides the prefix reuse once
// and sends it with the request, so every stage keeps the same rows. Interventions travel whole
// and act where the layer they name runs. Captures stay on the rank that made them; rank 0
// fetches a layer's (or the logits) on request into the trace it returned.
//
// Several sessions (`serve`: one per client) share the ranks: every command names its session,
// each rank keeps one engine (KV cache, prefix, last pass) per open session, and rank 0 sends one
// command at a time (the caller serialises the drivers of different sessions).
//
// Every wait has a deadline: a rank that died or hangs turns into an error on rank 0 naming it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/api/trace.h"
#include "runtime/dist/stage_plan.h"
#include "runtime/dist/transport.h"
#include "runtime/dist/wire.h"
#include "runtime/engine/engine.h"

namespace ll::rt::dist {

// Message tags. kTagActivations carries a hop's header (stage_links.h), kTagPayload its floats
// when they go through host memory, kTagSetup the job's activation route and NCCL id.
enum Tag : int {
  kTagCommand = 1,
  kTagActivations = 2,
  kTagReply = 3,
  kTagData = 4,
  kTagPayload = 5,
  kTagSetup = 6
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
  // (false: generation's passes), on every stage alike.
  std::shared_ptr<const Trace> run(const std::vector<int32_t>& ids,
                                   const std::vector<int32_t>& positions, const Interventions& iv,
                                   const CaptureOptions& capture,
                                   const std::function<void(Trace&)>& annotate = {},
                                   bool publish = true);
  // Brings layer l's captures (and its input, the previous layer's resid) into the last trace.
  void fetchLayer(int l);
  // Brings the logits and the final norm from the last rank into the last trace.
  void fetchHead();
  // Brings every layer's captures (when the pass captured) and the logits into the last trace.
  void fetchAll();
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

  Transport& m_t;
  Engine& m_engine;
  PipelineOptions m_opt;
  SessionId m_session = 0;
  std::vector<StageRange> m_stages;
  std::shared_ptr<const Trace> m_stageTrace;  // rank 0's own pass
  std::shared_ptr<Trace> m_trace;             // the assembled trace given out
  std::vector<char> m_fetched;                // per layer: its captures are in m_trace
  bool m_down = false;
};

// Ranks 0 (any thread): tells every other rank to stop serving, for a rank 0 that drove sessions
// other than 0 only (`serve`).
void stopServing(Transport& t, const PipelineOptions& opt = {});

struct ServeHooks {
  // Called when a run command arrives (fault-injection tests).
  std::function<void()> beforeRun;
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
