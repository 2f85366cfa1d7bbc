// Layer-split execution over a Transport: the serve loop of ranks > 0. It keeps one stage per
// session (its engine with its KV cache and prefix, its stage plan and its last pass, whose
// captures rank 0 fetches), session 0 being the engine it was given.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>

#include "runtime/dist/host_channel.h"
#include "runtime/dist/pipeline.h"
#include "runtime/dist/pipeline_commands.h"
#include "runtime/dist/stage_links.h"

namespace ll::rt::dist {

using namespace detail;

namespace {

// One session's stage on this rank.
struct Stage {
  std::shared_ptr<Engine> engine;
  std::vector<StageRange> stages;
  std::shared_ptr<const Trace> trace;  // the last pass, for fetches
};

// One run command on rank `rank`: the input residual from the previous rank, the stage's pass,
// its output to the next rank (a failed header when this pass failed), the status to rank 0.
// st: the session's stage (null: unknown session; the chain still passes a failed header on).
void serveRun(Transport& t, const PipelineOptions& opt, Stage* st, const std::string& unknown,
              WireReader& rd) {
  const int rank = t.rank(), N = t.size();
  const bool lastStage = rank == N - 1;
  std::string error;
  const std::string prev = "rank " + std::to_string(rank - 1);
  HostPayloadChannel hostPayload(t);
  PayloadChannel& payload = opt.payload ? *opt.payload : hostPayload;
  kern::Backend* backend = st ? &st->engine->backend() : nullptr;
  InboundActivations in(t, payload, backend, rank - 1, opt.timeoutS, "the residual from " + prev);
  std::optional<OutboundActivations> out;
  try {
    const StageRequest req = readRequest(rd);
    if (req.running < 1 || req.running > N)
      throw std::runtime_error("run request: " + std::to_string(req.running) +
                               " running ranks of " + std::to_string(N));
    // Ranks past the early exit's stop layer get no residual and send none.
    const bool hasInput = rank < req.running;
    if (!lastStage)
      out.emplace(t, payload, backend, rank + 1, rank + 1 < req.running,
                  st ? uint32_t(st->engine->spec().nEmbd) : 0, opt.timeoutS,
                  "the residual after this rank's layers");
    if (!st) {
      // The upstream rank's header (and payload) still come (it knows nothing of our sessions).
      if (hasInput) in.expect(uint32_t(req.ids.size() - size_t(std::max(0, req.reuse))), 0);
      throw std::runtime_error(unknown);
    }
    Engine& engine = *st->engine;
    const std::vector<StageRange>& stages = st->stages;
    if (hasInput)
      in.expect(uint32_t(req.ids.size() - size_t(std::max(0, req.reuse))),
                uint32_t(engine.spec().nEmbd));
    // The plan and the request must agree on who runs (the engine computes the same stop).
    if (hasInput != (stages[size_t(rank)].first < engine.stopLayer(req.capture)))
      throw std::runtime_error("run request: rank 0's early exit does not match this rank's plan");
    st->trace.reset();  // lets the engine build the new trace in the old one's buffers
    st->trace =
        engine.runStage(req.ids, req.positions, req.interventions, req.capture,
                        {req.reuse, hasInput ? &in : nullptr, out ? &*out : nullptr, req.publish});
  } catch (const std::exception& e) {
    error = e.what();
  }
  try {
    in.drain();  // an ok header's payload this pass did not take
  } catch (const std::exception& e) {
    if (error.empty()) error = e.what();
  }
  if (out) out->finish();
  const std::vector<char> s = status(error.empty(), error);
  t.send(0, kTagReply, s.data(), s.size(), opt.timeoutS, "the status of a pass");
}

std::vector<char> layerReply(const Stage* st, int rank, int l) {
  const Trace* tr = st ? st->trace.get() : nullptr;
  if (!tr || !tr->captured) return status(false, "no captured pass to fetch from");
  const StageRange& mine = st->stages[size_t(rank)];
  if (l < mine.first || l >= mine.last)
    return status(false, "layer " + std::to_string(l) + " is not on this rank");
  WireWriter w;
  w.put<uint8_t>(1);
  writeLayer(w, tr->layers[size_t(l)]);
  writeTensor(w, l > 0 ? tr->layers[size_t(l - 1)].resid : TraceTensor<float>());
  return std::move(w.bytes());
}

std::vector<char> headReply(const Stage* st, bool lastStage) {
  const Trace* tr = st ? st->trace.get() : nullptr;
  if (!tr || !lastStage) return status(false, "no pass with logits on this rank");
  WireWriter w;
  w.put<uint8_t>(1);
  writeTensor(w, tr->logits);
  writeTensor(w, tr->finalNorm);
  return std::move(w.bytes());
}

// Opens a session's stage; the error text when it cannot.
std::string openStage(Transport& t, const ServeHooks& hooks, std::map<SessionId, Stage>& sessions,
                      SessionId id, WireReader& rd) {
  try {
    const std::string spec = rd.getString();
    if (!hooks.openEngine) return "this rank serves no sessions";
    if (sessions.count(id)) return "session " + std::to_string(id) + " is already open";
    const size_t open = sessions.size() - sessions.count(0);
    if (open >= size_t(std::max(0, hooks.maxSessions)))
      return "this rank holds " + std::to_string(open) + " sessions, the most it keeps";
    Stage st;
    st.engine = hooks.openEngine(spec);
    if (!st.engine) return "no engine for the session";
    st.stages = planStages(t, *st.engine);
    sessions[id] = std::move(st);
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace

int servePipeline(Transport& t, Engine* engine, PipelineOptions opt, const ServeHooks& hooks) {
  if (t.rank() == 0) throw std::logic_error("rank 0 drives the pipeline");
  const bool lastStage = t.rank() == t.size() - 1;
  std::map<SessionId, Stage> sessions;
  if (engine) {
    Stage& s0 = sessions[0];
    s0.engine = std::shared_ptr<Engine>(engine, [](Engine*) {});  // the caller's
    s0.stages = planStages(t, *engine);
  }
  for (;;) {
    // Rank 0 may spend long between commands (writing files, waiting for clients): no deadline
    // here; if it dies the MPI launcher ends this rank.
    const std::vector<char> b = t.recv(0, kTagCommand, kMaxCommand, 0.0, "a command");
    WireReader rd(b);
    const auto cmd = static_cast<Cmd>(rd.get<uint8_t>());
    const SessionId id = rd.get<uint64_t>();
    if (cmd == Cmd::Quit) return 0;
    auto it = sessions.find(id);
    Stage* st = it == sessions.end() ? nullptr : &it->second;
    const std::string unknown = "session " + std::to_string(id) + " is not open on this rank";
    if (cmd == Cmd::Close) {
      if (st && id != 0) sessions.erase(it);  // its engine, KV cache and captures go
      continue;
    }
    if (cmd == Cmd::Run) {
      if (hooks.beforeRun) hooks.beforeRun();
      serveRun(t, opt, st, unknown, rd);
      continue;
    }
    std::vector<char> r;
    if (cmd == Cmd::Open) {
      const std::string error = openStage(t, hooks, sessions, id, rd);
      r = status(error.empty(), error);
      t.send(0, kTagReply, r.data(), r.size(), opt.timeoutS, "the answer to opening a session");
      continue;
    }
    if (cmd == Cmd::FetchLayer)
      r = st ? layerReply(st, t.rank(), rd.get<int32_t>()) : status(false, unknown);
    else if (cmd == Cmd::FetchHead)
      r = st ? headReply(st, lastStage) : status(false, unknown);
    else
      r = status(false, "unknown command " + std::to_string(int(cmd)));
    t.send(0, kTagData, r.data(), r.size(), opt.timeoutS, "fetched captures");
  }
}

int servePipeline(Transport& t, Engine& engine, PipelineOptions opt,
                  const std::function<void()>& beforeRun) {
  ServeHooks hooks;
  hooks.beforeRun = beforeRun;
  return servePipeline(t, &engine, opt, hooks);
}

}  // namespace ll::rt::dist
