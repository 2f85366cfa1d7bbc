// Layer-split execution over a Transport: rank 0's driver and the other ranks' serve loop.
#include "runtime/dist/pipeline.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace ll::rt::dist {
namespace {

enum class Cmd : uint8_t { Run = 1, FetchLayer = 2, FetchHead = 3, Quit = 4 };

constexpr size_t kMaxCommand = size_t(1) << 30;  // steering vectors, patches, eviction masks
constexpr size_t kMaxReply = size_t(1) << 16;    // a status and an error message
constexpr size_t kMaxData = size_t(INT32_MAX);   // one layer's captures (MPI counts are int)

std::string layersText(const StageRange& s) {
  return s.last - s.first == 1
             ? "layer " + std::to_string(s.first)
             : "layers " + std::to_string(s.first) + "-" + std::to_string(s.last - 1);
}

std::vector<char> status(bool ok, const std::string& msg) {
  WireWriter w;
  w.put<uint8_t>(ok);
  w.putString(msg);
  return std::move(w.bytes());
}

// The stage plan for this transport's ranks, the engine switched to its own range.
std::vector<StageRange> planStages(Transport& t, Engine& e) {
  auto stages = splitLayers(e.spec().nLayer, t.size());
  const StageRange& mine = stages[size_t(t.rank())];
  e.setLayerRange(mine.first, mine.last);
  return stages;
}

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

PipelineDriver::PipelineDriver(Transport& t, Engine& engine, PipelineOptions opt)
    : m_t(t), m_engine(engine), m_opt(opt) {
  if (t.rank() != 0) throw std::logic_error("the pipeline driver runs on rank 0");
  m_stages = planStages(t, engine);
}

PipelineDriver::~PipelineDriver() {
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
                                                 const std::function<void(Trace&)>& annotate) {
  if (m_down) throw std::logic_error("pipeline: the other ranks were shut down");
  if (capture.lastLayer >= 0)
    throw std::invalid_argument("a pipeline pass runs every layer (no early exit)");
  StageRequest req{ids, positions, iv, capture, 0};
  // Validates the request here, before any rank starts; the one reuse decision for all stages.
  req.reuse = m_engine.plannedReuse(ids, positions, iv, capture);
  WireWriter w;
  w.put<uint8_t>(static_cast<uint8_t>(Cmd::Run));
  writeRequest(w, req);
  const int N = m_t.size();
  for (int r = 1; r < N; ++r) command(r, w.bytes());
  m_trace.reset();
  m_stageTrace.reset();  // lets the engine build the new trace in the old one's buffers
  std::vector<float> out;
  std::string ownError;
  try {
    m_stageTrace = m_engine.runStage(ids, positions, iv, capture, {req.reuse, nullptr, &out});
  } catch (const std::exception& e) {
    ownError = e.what();
    out.clear();  // an empty message tells the next rank this pass failed upstream
  }
  if (N > 1)
    sendTo(1, kTagActivations, out.data(), out.size() * sizeof(float),
           "the residual after " + layersText(m_stages[0]));
  std::string firstError;
  for (int r = 1; r < N; ++r) {
    const std::vector<char> b = reply(r, kTagReply, "no result for its stage");
    WireReader rd(b);
    const bool ok = rd.get<uint8_t>() != 0;
    const std::string msg = rd.getString();
    if (!ok && firstError.empty()) firstError = rankText(r) + msg;
  }
  if (!ownError.empty()) throw std::runtime_error(ownError);
  if (!firstError.empty()) throw std::runtime_error(firstError);
  m_trace = shellOf(*m_stageTrace);
  m_fetched.assign(m_trace->layers.size(), 0);
  if (annotate) annotate(*m_trace);
  return m_trace;
}

void PipelineDriver::fetchLayer(int l) {
  if (!m_trace) throw std::logic_error("pipeline: no pass to fetch a layer from");
  if (!m_trace->captured) throw std::invalid_argument("pipeline: the pass ran without capture");
  LayerTrace& dst = m_trace->layers.at(size_t(l));
  if (m_fetched[size_t(l)]) return;
  const int owner = ownerOf(l);
  if (owner == 0) {
    dst = m_stageTrace->layers[size_t(l)];
    m_fetched[size_t(l)] = 1;
    return;
  }
  WireWriter w;
  w.put<uint8_t>(static_cast<uint8_t>(Cmd::FetchLayer));
  w.put<int32_t>(l);
  command(owner, w.bytes());
  const std::vector<char> b = reply(owner, kTagData, "layer " + std::to_string(l) + " not sent");
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
  const int last = m_t.size() - 1;
  if (last == 0) {  // one rank: the head ran here
    m_trace->logits = m_stageTrace->logits;
    m_trace->finalNorm = m_stageTrace->finalNorm;
    return;
  }
  WireWriter w;
  w.put<uint8_t>(static_cast<uint8_t>(Cmd::FetchHead));
  command(last, w.bytes());
  const std::vector<char> b = reply(last, kTagData, "logits not sent");
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

void PipelineDriver::shutdown() {
  if (m_down) return;
  m_down = true;
  WireWriter w;
  w.put<uint8_t>(static_cast<uint8_t>(Cmd::Quit));
  for (int r = 1; r < m_t.size(); ++r) command(r, w.bytes());
}

namespace {

// One run command on rank `rank`: the input residual from the previous rank, the stage's pass,
// its output to the next rank (an empty message when this pass failed), the status to rank 0.
std::shared_ptr<const Trace> serveRun(Transport& t, Engine& engine, const PipelineOptions& opt,
                                      const std::vector<StageRange>& stages, WireReader& rd) {
  const int rank = t.rank(), N = t.size();
  const bool lastStage = rank == N - 1;
  std::shared_ptr<const Trace> trace;
  std::vector<float> out;
  std::string error;
  try {
    const StageRequest req = readRequest(rd);
    const size_t expected = (req.ids.size() - size_t(std::max(0, req.reuse))) *
                            size_t(engine.spec().nEmbd) * sizeof(float);
    const std::vector<char> in =
        t.recv(rank - 1, kTagActivations, expected, opt.timeoutS,
               "the residual after " + layersText(stages[size_t(rank - 1)]) + " from rank " +
                   std::to_string(rank - 1));
    if (in.empty())
      throw std::runtime_error("rank " + std::to_string(rank - 1) + " failed before its output");
    if (in.size() != expected)
      throw std::runtime_error("rank " + std::to_string(rank - 1) + " sent " +
                               std::to_string(in.size()) + " bytes of residual, expected " +
                               std::to_string(expected));
    std::vector<float> input(in.size() / sizeof(float));
    std::memcpy(input.data(), in.data(), in.size());
    trace = engine.runStage(req.ids, req.positions, req.interventions, req.capture,
                            {req.reuse, input.data(), lastStage ? nullptr : &out});
  } catch (const std::exception& e) {
    error = e.what();
    out.clear();
  }
  if (!lastStage)
    t.send(rank + 1, kTagActivations, out.data(), out.size() * sizeof(float), opt.timeoutS,
           "the residual after " + layersText(stages[size_t(rank)]));
  const std::vector<char> s = status(error.empty(), error);
  t.send(0, kTagReply, s.data(), s.size(), opt.timeoutS, "the status of a pass");
  return trace;
}

std::vector<char> layerReply(const Trace* tr, const StageRange& mine, int l) {
  if (!tr || !tr->captured) return status(false, "no captured pass to fetch from");
  if (l < mine.first || l >= mine.last)
    return status(false, "layer " + std::to_string(l) + " is not on this rank");
  WireWriter w;
  w.put<uint8_t>(1);
  writeLayer(w, tr->layers[size_t(l)]);
  writeTensor(w, l > 0 ? tr->layers[size_t(l - 1)].resid : TraceTensor<float>());
  return std::move(w.bytes());
}

std::vector<char> headReply(const Trace* tr, bool lastStage) {
  if (!tr || !lastStage) return status(false, "no pass with logits on this rank");
  WireWriter w;
  w.put<uint8_t>(1);
  writeTensor(w, tr->logits);
  writeTensor(w, tr->finalNorm);
  return std::move(w.bytes());
}

}  // namespace

int servePipeline(Transport& t, Engine& engine, PipelineOptions opt,
                  const std::function<void()>& beforeRun) {
  if (t.rank() == 0) throw std::logic_error("rank 0 drives the pipeline");
  const std::vector<StageRange> stages = planStages(t, engine);
  const StageRange mine = stages[size_t(t.rank())];
  const bool lastStage = t.rank() == t.size() - 1;
  std::shared_ptr<const Trace> trace;
  for (;;) {
    // Rank 0 may spend long between commands (writing files): no deadline here; if it dies the
    // MPI launcher ends this rank.
    const std::vector<char> b = t.recv(0, kTagCommand, kMaxCommand, 0.0, "a command");
    WireReader rd(b);
    const auto cmd = static_cast<Cmd>(rd.get<uint8_t>());
    if (cmd == Cmd::Quit) return 0;
    if (cmd == Cmd::Run) {
      if (beforeRun) beforeRun();
      trace.reset();  // lets the engine build the new trace in the old one's buffers
      trace = serveRun(t, engine, opt, stages, rd);
      continue;
    }
    std::vector<char> r;
    if (cmd == Cmd::FetchLayer)
      r = layerReply(trace.get(), mine, rd.get<int32_t>());
    else if (cmd == Cmd::FetchHead)
      r = headReply(trace.get(), lastStage);
    else
      r = status(false, "unknown command " + std::to_string(int(cmd)));
    t.send(0, kTagData, r.data(), r.size(), opt.timeoutS, "fetched captures");
  }
}

}  // namespace ll::rt::dist
