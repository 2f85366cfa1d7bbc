// Layer-split execution over a Transport: the serve loop of ranks > 0. It keeps one stage per
// session (its engine with its KV cache and prefix, its stage plan and the passes whose captures
// rank 0 may still fetch: pipeline_stage.h), session 0 being the engine it was given.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>

#include "runtime/dist/host_channel.h"
#include "runtime/dist/pipeline.h"
#include "runtime/dist/pipeline_commands.h"
#include "runtime/dist/pipeline_stage.h"
#include "runtime/dist/pipeline_watch.h"
#include "runtime/dist/stage_links.h"

namespace ll::rt::dist {

using namespace detail;

namespace {

// The last run, until the next command shows whether it completed on every rank (rank 0 sends
// Revert first when it did not): what Engine::cancelStage needs to return to.
struct LastRun {
  SessionId session = 0;
  Stage* stage = nullptr;  // null: nothing to revert (an unknown session, an unreadable request)
  Engine::KeptTrace before;
  StageRequest req;
};

// One run command on rank `rank`: the input residual from the previous rank, the stage's pass,
// its output to the next rank (a failed header when this pass failed), the status to rank 0.
// st: the session's stage (null: unknown session; the chain still passes a failed header on).
// A watched pass reports each layer to rank 0 and stops between layers when rank 0 cancels it.
void serveRun(Transport& t, const PipelineOptions& opt, const ServeHooks& hooks, SessionId id,
              Stage* st, const std::string& unknown, WireReader& rd, LastRun& last) {
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
    const PassHeader pass = readPass(rd);
    last.req = readRequest(rd);
    const StageRequest& req = last.req;
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
    // Held over a watched pass, so a cancel can return to it (Engine::cancelStage).
    last.before = pass.watched ? engine.keptTrace() : Engine::KeptTrace{};
    last.stage = st;
    if (hasInput)
      in.expect(uint32_t(req.ids.size() - size_t(std::max(0, req.reuse))),
                uint32_t(engine.spec().nEmbd));
    // The plan and the request must agree on who runs (the engine computes the same stop).
    if (hasInput != (stages[size_t(rank)].first < engine.stopLayer(req.capture)))
      throw std::runtime_error("run request: rank 0's early exit does not match this rank's plan");
    StageWatch watch(t, {id, req.pass}, opt.timeoutS);
    const int first = stages[size_t(rank)].first;
    EngineProgress progress;
    if (pass.watched || hooks.afterLayer)
      progress = [&](int done, int) {
        if (pass.watched) watch.progress(first + done);
        if (hooks.afterLayer) hooks.afterLayer();
        return !pass.watched || !watch.cancelled();
      };
    if (pass.watched && watch.cancelled()) throw Cancelled();
    // Kept under its number until rank 0 releases it. The engine builds the new trace in the old
    // one's buffers only when nothing keeps that one (rank 0 releases a pass it fetched eagerly
    // before the next run), so a kept pass is never overwritten.
    st->kept.keep(req.pass, engine.runStage(req.ids, req.positions, req.interventions, req.capture,
                                            {req.reuse, hasInput ? &in : nullptr,
                                             out ? &*out : nullptr, req.publish},
                                            progress));
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
  LastRun last;
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
    if (cmd == Cmd::Revert) {  // the last run did not complete on every rank
      if (last.stage && last.stage == st && last.session == id) {
        st->kept.release(last.req.pass);  // rank 0 never hands out a pass that did not complete
        st->engine->cancelStage(last.before, last.req.ids, last.req.positions,
                                last.req.interventions, last.req.reuse);
      }
      last = {};  // a cancel still queued for that run is dropped by the next watched pass
      continue;
    }
    last = {};  // any other command: the last run completed (its previous trace can go)
    if (cmd == Cmd::Close) {
      if (st && id != 0) sessions.erase(it);  // its engine, KV cache and captures go
      continue;
    }
    if (cmd == Cmd::Run) {
      if (hooks.beforeRun) hooks.beforeRun();
      last.session = id;
      serveRun(t, opt, hooks, id, st, unknown, rd, last);
      continue;
    }
    std::vector<char> r;
    if (cmd == Cmd::Open) {
      const std::string error = openStage(t, hooks, sessions, id, rd);
      r = status(error.empty(), error);
      t.send(0, kTagReply, r.data(), r.size(), opt.timeoutS, "the answer to opening a session");
      continue;
    }
    if (cmd == Cmd::Release) {  // no reply: rank 0 sends it ahead of its next command
      releasePasses(st, rd);
      continue;
    }
    if (cmd == Cmd::FetchLayer)
      r = st ? layerReply(st, t.rank(), rd) : status(false, unknown);
    else if (cmd == Cmd::FetchHead)
      r = st ? headReply(st, lastStage, rd) : status(false, unknown);
    else if (cmd == Cmd::Describe)
      r = st ? describeReply(st, t.rank(), lastStage, rd) : status(false, unknown);
    else if (cmd == Cmd::FetchTensor)
      r = st ? tensorReply(st, t.rank(), lastStage, rd) : status(false, unknown);
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
