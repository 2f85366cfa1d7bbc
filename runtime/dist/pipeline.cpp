// Layer-split execution over a Transport: rank 0's driver (the other ranks' serve loop is
// pipeline_serve.cpp).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "runtime/dist/host_channel.h"
#include "runtime/dist/pipeline.h"
#include "runtime/dist/pipeline_commands.h"
#include "runtime/dist/pipeline_watch.h"
#include "runtime/dist/stage_links.h"

namespace ll::rt::dist {

using namespace detail;

namespace {

// The trace rank 0 hands out: its metadata and embeddings; layers and logits are fetched.
std::shared_ptr<Trace> shellOf(const Trace& s) {
  auto tr = std::make_shared<Trace>();
  tr->nTokens = s.nTokens;
  tr->nLayer = s.nLayer;
  tr->nEmbd = s.nEmbd;
  tr->nHead = s.nHead;
  tr->nHeadKv = s.nHeadKv;
  tr->headDim = s.headDim;
  tr->nVocab = s.nVocab;
  tr->nExpert = s.nExpert;
  tr->nExpertUsed = s.nExpertUsed;
  tr->attnScale = s.attnScale;
  tr->layerAttn = s.layerAttn;
  tr->ids = s.ids;
  tr->positions = s.positions;
  tr->captured = s.captured;
  tr->allLogits = s.allLogits;
  tr->embd = s.embd;
  tr->layers.resize(s.layers.size());
  tr->qFrom = s.qFrom;
  tr->recompute = s.recompute;
  tr->reusedRows = s.reusedRows;
  tr->request = s.request;
  return tr;
}

}  // namespace

PipelineDriver::PipelineDriver(Transport& t, Engine& engine, PipelineOptions opt, SessionId session,
                               const std::string& openSpec)
    : m_t(t), m_engine(engine), m_opt(opt), m_session(session) {
  if (t.rank() != 0) throw std::logic_error("the pipeline driver runs on rank 0");
  m_stages = planStages(t, engine);
  m_link->driver = this;
  if (session == 0) return;
  std::vector<char> open = header(static_cast<uint8_t>(Cmd::Open));
  WireWriter w;
  w.putString(openSpec);
  open.insert(open.end(), w.bytes().begin(), w.bytes().end());
  for (int r = 1; r < t.size(); ++r) command(r, open);
  std::string firstError;
  for (int r = 1; r < t.size(); ++r) {
    const std::vector<char> b = reply(r, kTagReply, "no answer to opening a session");
    WireReader rd(b);
    const bool ok = rd.get<uint8_t>() != 0;
    const std::string msg = rd.getString();
    if (!ok && firstError.empty()) firstError = rankText(r) + msg;
  }
  if (!firstError.empty()) {
    shutdown();  // closes the session on the ranks that did open it
    throw std::runtime_error(firstError);
  }
}

PipelineDriver::~PipelineDriver() {
  {
    // Lazy traces that outlive the driver get an error on their next fetch.
    std::lock_guard<std::mutex> lock(m_link->mutex);
    m_link->driver = nullptr;
  }
  try {
    shutdown();
  } catch (const std::exception&) {  // the job is ending anyway; the ranks are stopped by MPI
  }
}

int PipelineDriver::ownerOf(int l) const {
  for (size_t r = 0; r < m_stages.size(); ++r)
    if (l >= m_stages[r].first && l < m_stages[r].last) return static_cast<int>(r);
  throw std::invalid_argument("layer " + std::to_string(l) + " is out of range");
}

std::vector<char> PipelineDriver::header(uint8_t cmd) const {
  return commandHeader(static_cast<Cmd>(cmd), m_session);
}

void PipelineDriver::command(int rank, const std::vector<char>& bytes) {
  sendTo(rank, kTagCommand, bytes.data(), bytes.size(), "a command");
}

void PipelineDriver::sendTo(int rank, int tag, const void* data, size_t bytes,
                            const std::string& what) {
  try {
    m_t.send(rank, tag, data, bytes, m_opt.timeoutS, what);
  } catch (const TransportError& e) {
    throw TransportError(rankText(rank) + e.what());
  }
}

std::string PipelineDriver::rankText(int rank) const {
  return "rank " + std::to_string(rank) + " (" + layersText(m_stages[size_t(rank)]) + "): ";
}

std::vector<char> PipelineDriver::reply(int rank, int tag, const std::string& what) {
  try {
    return m_t.recv(rank, tag, tag == kTagReply ? kMaxReply : kMaxData, m_opt.timeoutS, what);
  } catch (const TransportError& e) {
    throw TransportError(rankText(rank) + e.what());
  }
}

std::shared_ptr<const Trace> PipelineDriver::run(const std::vector<int32_t>& ids,
                                                 const std::vector<int32_t>& positions,
                                                 const Interventions& iv,
                                                 const CaptureOptions& capture,
                                                 const std::function<void(Trace&)>& annotate,
                                                 bool publish, const EngineProgress& progress) {
  if (m_down) throw std::logic_error("pipeline: the other ranks were shut down");
  StageRequest req{ids, positions, iv, capture, 0, publish};
  // An early exit (capture.lastLayer) runs the stages up to the one holding its stop layer; the
  // others only trim their caches as one process does (Engine::runStage).
  const int stop = m_engine.stopLayer(capture);
  req.running = 0;
  for (const StageRange& st : m_stages)
    if (st.first < stop) ++req.running;
  // Validates the request here, before any rank starts; the one reuse decision for all stages.
  req.reuse = m_engine.plannedReuse(ids, positions, iv, capture);
  // The previous pass, unless a lazy trace still refers to it (then its KeptPass releases it), is
  // let go of before this one runs, so a stage can build the new trace in its buffers.
  if (m_pass && !m_passShared) m_releases->push(m_pass);
  req.pass = ++m_pass;
  m_passShared = false;
  flushReleases();
  const PassHeader pass{bool(progress)};
  WireWriter w;
  writePass(w, pass);
  writeRequest(w, req);
  std::vector<char> cmd = header(static_cast<uint8_t>(Cmd::Run));
  cmd.insert(cmd.end(), w.bytes().begin(), w.bytes().end());
  const int N = m_t.size();
  for (int r = 1; r < N; ++r) command(r, cmd);
  m_trace.reset();
  m_stageTrace.reset();  // lets the engine build the new trace in the old one's buffers
  // ... unless the pass may be cancelled: a cancelled pass returns to the previous trace.
  const Engine::KeptTrace before = pass.watched ? m_engine.keptTrace() : Engine::KeptTrace{};
  // The engine sends the residual from its own buffer; a failed pass sends a failed header.
  HostPayloadChannel hostPayload(m_t);
  OutboundActivations out(m_t, m_opt.payload ? *m_opt.payload : hostPayload, &m_engine.backend(), 1,
                          req.running > 1, uint32_t(m_engine.spec().nEmbd), m_opt.timeoutS,
                          "the residual after " + layersText(m_stages[0]));
  std::string ownError;
  bool cancelledHere = false;
  try {
    try {
      EngineProgress own;
      if (progress) own = [&](int done, int) { return progress(done, stop); };
      m_stageTrace = m_engine.runStage(ids, positions, iv, capture,
                                       {req.reuse, nullptr, N > 1 ? &out : nullptr, publish}, own);
    } catch (const TransportError&) {
      throw;
    } catch (const Cancelled&) {
      cancelledHere = true;  // the later ranks stop as failed upstream (finish's header)
    } catch (const std::exception& e) {
      ownError = e.what();
    }
    out.finish();
  } catch (const TransportError& e) {
    throw TransportError(rankText(1) + e.what());
  }
  const StatusWait sw = awaitStatus(
      m_t, {m_session, req.pass}, cancelledHere ? EngineProgress{} : progress,
      std::min(m_stages[0].last, stop), stop, m_opt.timeoutS, [this](int r) { return rankText(r); },
      cancelledHere);
  std::string firstError;
  for (int r = 1; r < N; ++r) {
    WireReader rd(sw.replies[size_t(r)]);
    const bool ok = rd.get<uint8_t>() != 0;
    const std::string msg = rd.getString();
    if (!ok && firstError.empty()) firstError = rankText(r) + msg;
  }
  if (sw.cancelled || !ownError.empty() || !firstError.empty()) {
    // Some stage did not complete the pass: every stage (this one too) leaves its cache as one
    // process leaves a cancelled pass, so the next reuse decision holds on all of them.
    m_stageTrace.reset();
    m_engine.cancelStage(before, ids, positions, iv, req.reuse);
    const std::vector<char> revert = header(static_cast<uint8_t>(Cmd::Revert));
    for (int r = 1; r < N; ++r) command(r, revert);
    if (sw.progressError) std::rethrow_exception(sw.progressError);
    if (sw.cancelled) throw Cancelled();
    throw std::runtime_error(!ownError.empty() ? ownError : firstError);
  }
  m_trace = shellOf(*m_stageTrace);
  m_fetched.assign(m_trace->layers.size(), 0);
  if (annotate) annotate(*m_trace);
  return m_trace;
}

void PipelineDriver::fetchLayer(int l) {
  if (!m_trace) throw std::logic_error("pipeline: no pass to fetch a layer from");
  if (!m_trace->captured) throw std::invalid_argument("pipeline: the pass ran without capture");
  LayerTrace& dst = m_trace->layers.at(size_t(l));
  if (m_fetched[size_t(l)] || m_passShared) return;  // a lazy trace fetches on its own
  const int owner = ownerOf(l);
  if (owner == 0) {
    dst = m_stageTrace->layers[size_t(l)];
    m_fetched[size_t(l)] = 1;
    return;
  }
  WireWriter w;
  w.put<uint64_t>(m_pass);
  w.put<int32_t>(l);
  std::vector<char> cmd = header(static_cast<uint8_t>(Cmd::FetchLayer));
  cmd.insert(cmd.end(), w.bytes().begin(), w.bytes().end());
  command(owner, cmd);
  const std::vector<char> b = reply(owner, kTagData, "layer " + std::to_string(l) + " not sent");
  ++m_fetchCommands;
  m_fetchBytes += b.size();
  WireReader rd(b);
  if (!rd.get<uint8_t>())
    throw std::runtime_error("rank " + std::to_string(owner) + ": " + rd.getString());
  LayerTrace L = readLayer(rd);
  TraceTensor<float> input = readTensor(rd);
  const size_t rows = size_t(m_trace->nTokens) * m_trace->nEmbd;
  if (L.resid.size() != rows || (l > 0 && input.size() != rows))
    throw std::runtime_error("rank " + std::to_string(owner) + " sent layer " + std::to_string(l) +
                             " with a shape that does not match the pass");
  dst = std::move(L);
  m_fetched[size_t(l)] = 1;
  // The layer's input, for recomputing its queries (a layer fetched whole already holds it).
  if (l > 0 && !m_fetched[size_t(l - 1)]) m_trace->layers[size_t(l - 1)].resid = std::move(input);
}

void PipelineDriver::fetchHead() {
  if (!m_trace) throw std::logic_error("pipeline: no pass to fetch the logits from");
  if (m_passShared) return;  // a lazy trace fetches on its own
  const int last = m_t.size() - 1;
  if (last == 0) {  // one rank: the head ran here
    m_trace->logits = m_stageTrace->logits;
    m_trace->finalNorm = m_stageTrace->finalNorm;
    return;
  }
  std::vector<char> cmd = header(static_cast<uint8_t>(Cmd::FetchHead));
  WireWriter w;
  w.put<uint64_t>(m_pass);
  cmd.insert(cmd.end(), w.bytes().begin(), w.bytes().end());
  command(last, cmd);
  const std::vector<char> b = reply(last, kTagData, "logits not sent");
  ++m_fetchCommands;
  m_fetchBytes += b.size();
  WireReader rd(b);
  if (!rd.get<uint8_t>())
    throw std::runtime_error("rank " + std::to_string(last) + ": " + rd.getString());
  TraceTensor<float> logits = readTensor(rd);
  TraceTensor<float> finalNorm = readTensor(rd);
  const size_t rows = m_trace->allLogits ? size_t(m_trace->nTokens) : 1;
  if (logits.size() != rows * m_trace->nVocab)
    throw std::runtime_error("rank " + std::to_string(last) + " sent " +
                             std::to_string(logits.size()) + " logits, expected " +
                             std::to_string(rows * m_trace->nVocab));
  m_trace->logits = std::move(logits);
  m_trace->finalNorm = std::move(finalNorm);
}

void PipelineDriver::fetchAll() {
  if (!m_trace) throw std::logic_error("pipeline: no pass to fetch from");
  if (m_trace->captured)
    for (int l = 0; l < m_trace->nLayer; ++l) fetchLayer(l);
  fetchHead();
}

void PipelineDriver::shutdown() {
  if (m_down) return;
  m_down = true;
  const std::vector<char> cmd =
      header(static_cast<uint8_t>(m_session == 0 ? Cmd::Quit : Cmd::Close));
  for (int r = 1; r < m_t.size(); ++r) command(r, cmd);
}

void stopServing(Transport& t, const PipelineOptions& opt) {
  const std::vector<char> cmd = commandHeader(Cmd::Quit, 0);
  for (int r = 1; r < t.size(); ++r)
    t.send(r, kTagCommand, cmd.data(), cmd.size(), opt.timeoutS, "the end of serving");
}

}  // namespace ll::rt::dist
