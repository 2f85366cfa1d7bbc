#include "runtime/api/session.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>

#include "kernels/backends.h"
#include "runtime/dist/stage_plan.h"
#include "runtime/engine/attention_masks.h"
#include "runtime/engine/device_plan.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/sampler.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt {
namespace {

std::unique_ptr<kern::Backend> makeCpu(const BackendChoice& b) {
  const kern::CpuMath math =
      b.cpuMath.empty() ? kern::cpuMathFromEnv() : kern::parseCpuMath(b.cpuMath, "cpu math");
  return kern::makeCpuBackend(b.threads, math);
}

}  // namespace

BackendChoice parseBackend(const std::string& name, int threads, const std::string& cpuMath) {
  BackendChoice c;
  c.threads = threads;
  if (!cpuMath.empty()) kern::parseCpuMath(cpuMath, "--cpu-math");
  c.cpuMath = cpuMath;
  if (name == "cpu" || name == "cuda" || name == "reference") {
    c.name = name;
    return c;
  }
  throw std::invalid_argument("unknown backend '" + name + "' (choose cpu, cuda or reference)");
}

Session::Session() = default;
Session::~Session() = default;

void Session::load(const std::filesystem::path& path, const BackendChoice& backend,
                   const LoadProgress& progress) {
  std::shared_ptr<const Model> m = loadModel(path, progress);
  attach(std::move(m), backend);
}

namespace {

// The weights a backend choice binds: a pipeline stage's share, or all of them.
WeightScope scopeOf(const Model& model, const StageShare& share) {
  WeightScope scope;
  if (share.stages <= 1) return scope;
  if (share.stage < 0 || share.stage >= share.stages)
    throw std::invalid_argument("pipeline stage " + std::to_string(share.stage) + " of " +
                                std::to_string(share.stages) + " does not exist");
  const dist::StageRange r =
      dist::splitLayers(model.spec.nLayer, share.stages)[size_t(share.stage)];
  scope.first = r.first;
  scope.last = r.last;
  scope.extra = share.extra;
  return scope;
}

}  // namespace

void Session::attach(std::shared_ptr<const Model> model, const BackendChoice& backend) {
  if (!model) throw std::invalid_argument("Session::attach: no model");
  const WeightScope scope = scopeOf(*model, backend.share);
  m_engine.reset();
  m_backend.reset();
  m_backendNote.clear();
  if (backend.name == "cuda") {
    std::string why;
    m_backend = kern::makeCudaBackend(&why);
    if (!m_backend) {
      m_backendNote = "CUDA backend unavailable (" +
                      (why.empty() ? std::string("unknown reason") : why) +
                      "); using the CPU backend";
      static std::once_flag once;
      std::call_once(once, [&] { std::fprintf(stderr, "layerlens: %s\n", m_backendNote.c_str()); });
    }
  } else if (backend.name == "reference") {
    m_backend = kern::makeReferenceBackend();
  } else if (backend.name != "cpu") {
    throw std::invalid_argument("unknown backend '" + backend.name + "'");
  }
  if (m_backend && backend.name == "cuda") {
    // Plan before uploading anything: a model that does not fit runs on the CPU with a note.
    const DeviceMemoryPlan plan = planDeviceMemory(*model, m_backend->freeMemory(), 512, scope);
    if (!plan.fits) {
      m_backendNote = plan.message;
      m_backend.reset();
    }
  }
  if (!m_backend) m_backend = makeCpu(backend);
  m_model = std::move(model);
  try {
    m_engine = std::make_unique<Engine>(*m_model, *m_backend, m_backend, nullptr, scope);
    m_engine->setModelOwner(m_model);
  } catch (const std::exception& e) {
    if (m_backend->hostMemory()) throw;
    // The plan is an estimate: an allocation that still fails on the device falls back too.
    m_backendNote = std::string("loading onto ") + m_backend->name() + " failed (" + e.what() +
                    "); using the CPU backend";
    m_engine.reset();
    m_backend = makeCpu(backend);
    m_engine = std::make_unique<Engine>(*m_model, *m_backend, m_backend, nullptr, scope);
    m_engine->setModelOwner(m_model);
  }
  m_ids.clear();
  m_pieces.clear();
  m_spans.clear();
}

void Session::attachSharing(const Session& donor) {
  if (!donor.m_engine) throw std::logic_error("Session::attachSharing: the donor has no model");
  m_engine.reset();
  m_model = donor.m_model;
  m_backend = donor.m_backend;
  m_backendNote = donor.m_backendNote;
  m_engine =
      std::make_unique<Engine>(*m_model, *m_backend, m_backend, donor.m_engine->sharedWeights());
  m_engine->setModelOwner(m_model);
  m_ids.clear();
  m_pieces.clear();
  m_spans.clear();
}

const Model& Session::model() const {
  if (!m_model) throw std::logic_error("no model loaded");
  return *m_model;
}

std::string Session::backendName() const {
  return m_backend ? m_backend->name() : std::string();
}

Engine& Session::engine() {
  if (!m_engine) throw std::logic_error("no model loaded");
  return *m_engine;
}

void Session::resetCache() {
  if (m_engine) m_engine->resetCache();
}

void Session::setPrompt(const std::string& text, int addBos) {
  const Model& m = model();
  if (!m.tokenizer) throw std::runtime_error("the model has no tokenizer; pass token ids");
  Encoding enc = m.tokenizer->encode(text, addBos);
  if (enc.ids.empty()) throw std::invalid_argument("empty prompt: the text gives no tokens");
  m_text = text;
  m_ids = std::move(enc.ids);
  m_pieces = std::move(enc.pieces);
  m_spans = std::move(enc.spans);
}

void Session::setPromptIds(const std::vector<int32_t>& ids) {
  const Model& m = model();
  if (ids.empty()) throw std::invalid_argument("empty prompt: no token ids");
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= m.spec.nVocab)
      throw std::invalid_argument("token id " + std::to_string(ids[i]) + " at index " +
                                  std::to_string(i) + " is out of range (vocabulary size " +
                                  std::to_string(m.spec.nVocab) + ")");
  m_text.clear();
  m_ids = ids;
  m_pieces.clear();
  m_spans.assign(ids.size(), {-1, -1});
  for (int32_t id : ids)
    m_pieces.push_back(m.tokenizer ? m.tokenizer->piece(id) : std::to_string(id));
}

void Session::selectInputs(const std::optional<TokenSubset>& subset, std::vector<int32_t>& ids,
                           std::vector<int32_t>& pos, std::vector<int32_t>& promptIndex) const {
  if (m_ids.empty()) throw std::invalid_argument("empty prompt: set a prompt first");
  ids.clear();
  pos.clear();
  promptIndex.clear();
  if (!subset) {
    ids = m_ids;
    for (size_t i = 0; i < m_ids.size(); ++i) {
      pos.push_back(static_cast<int32_t>(i));
      promptIndex.push_back(static_cast<int32_t>(i));
    }
    return;
  }
  if (subset->indices.empty()) throw std::invalid_argument("token subset is empty");
  int prev = -1;
  for (int i : subset->indices) {
    if (i < 0 || i >= static_cast<int>(m_ids.size()))
      throw std::invalid_argument("token subset index " + std::to_string(i) + " is out of range");
    if (i <= prev) throw std::invalid_argument("token subset indices must be strictly increasing");
    prev = i;
    pos.push_back(subset->keepPositions ? i : static_cast<int32_t>(ids.size()));
    ids.push_back(m_ids[i]);
    promptIndex.push_back(i);
  }
}

std::shared_ptr<const Trace> Session::run(const RunRequest& req, const RunProgress& progress) {
  std::vector<int32_t> ids, pos, idx;
  selectInputs(req.subset, ids, pos, idx);
  auto annotate = [&](Trace& out) {
    out.promptIndex = idx;
    out.request.subset = req.subset;
    for (int32_t i : idx) {
      out.pieces.push_back(i < static_cast<int32_t>(m_pieces.size()) ? m_pieces[i] : std::string());
      out.spans.push_back(i < static_cast<int32_t>(m_spans.size()) ? m_spans[i]
                                                                   : std::pair<int, int>{-1, -1});
    }
  };
  return engine().run(ids, pos, req.interventions, req.capture, progress, true, annotate);
}

std::vector<float> Session::attentionMap(const Trace& tr, int layer, int head, int rowBegin) {
  if (!tr.captured) throw std::invalid_argument("attention map: the trace was run without capture");
  if (layer < 0 || layer >= tr.nLayer)
    throw std::invalid_argument("attention map: layer out of range");
  if (head >= tr.nHead) throw std::invalid_argument("attention map: head out of range");
  if (rowBegin < 0 || rowBegin >= tr.nTokens)
    throw std::invalid_argument("attention map: first row out of range");
  kern::Backend& b = *m_backend;
  const int T = tr.nTokens, qd = tr.nHead * tr.headDim, kvd = tr.nHeadKv * tr.headDim;
  const LayerTrace& L = tr.layers[layer];
  if (L.qTail.size() != size_t(T - tr.qFrom) * qd || L.k.size() != size_t(T) * kvd)
    throw std::invalid_argument("attention map: the trace's Q/K do not match its shape");
  kern::Buffer qStage,
      kStage;  // used only when Q/K are neither on this backend nor host-addressable
  // Query rows [rowBegin, T): stored, or (a trace keeping only its last rows) recomputed.
  const int nQ = T - rowBegin;
  // The stored tail is used where it lies when it is exactly these rows; otherwise a host copy.
  TraceTensor<float> qRows;
  if (rowBegin != tr.qFrom) qRows = TraceTensor<float>(tr.queries(layer, rowBegin, T));
  const float* qSrc = backendView(b, rowBegin == tr.qFrom ? L.qTail : qRows, qStage);
  const float* kSrc = backendView(b, L.k, kStage);
  // The masks the pass ran with (knockouts, head eviction), one call per mask segment.
  std::map<std::string, kern::Buffer> scratch;
  auto get = [&](const std::string& name, size_t bytes) {
    kern::Buffer& x = scratch[name];
    if (x.bytes() < bytes) x = kern::Buffer(b, bytes);
    return x.get();
  };
  // Probabilities do not depend on V.
  const kern::AttnArgs a = layerAttnArgs(tr, layer, nQ, T, qSrc, kSrc, kSrc, nullptr, &b, get);
  std::vector<float> result(size_t(T) * T, 0.0f), tmp(size_t(nQ) * T);
  float* rows = result.data() + size_t(rowBegin) * T;
  const int h0 = head < 0 ? 0 : head, h1 = head < 0 ? tr.nHead : head + 1;
  for (int h = h0; h < h1; ++h) {
    maskedAttentionMap(b, a, tr.request.interventions, layer, h, get, tmp.data());
    for (size_t i = 0; i < tmp.size(); ++i) rows[i] += tmp[i];
  }
  if (h1 - h0 > 1)
    for (size_t i = 0; i < tmp.size(); ++i) rows[i] /= static_cast<float>(h1 - h0);
  return result;
}

Generation Session::generate(const GenerateRequest& req, const TokenCallback& onToken,
                             const RunProgress& progress) {
  if (req.maxTokens < 0) throw std::invalid_argument("generate: negative token count");
  if (!req.sampling.greedy &&
      (req.sampling.temperature < 0 || req.sampling.topP <= 0 || req.sampling.topK < 0))
    throw std::invalid_argument("generate: invalid sampling settings");
  std::vector<int32_t> ids, pos, idx;
  selectInputs(req.subset, ids, pos, idx);
  Engine& e = engine();
  const Model& m = model();
  const CaptureOptions off{false, false};
  Generation g;
  if (req.maxTokens == 0) return g;
  const int total = static_cast<int>(ids.size()) + req.maxTokens;
  e.reserve(m.spec.nCtx > 0 ? std::min(total, m.spec.nCtx) : total);
  auto tr = e.run(ids, pos, req.interventions, off, progress, false);
  std::vector<float> logits = tr->logits;
  Sampler sampler(req.sampling);
  int32_t nextPos = pos.back() + 1;
  const int32_t eos = m.tokenizer ? m.tokenizer->eos() : -1;
  for (int i = 0; i < req.maxTokens; ++i) {
    const int32_t tok = sampler.next(logits.data(), m.spec.nVocab);
    g.ids.push_back(tok);
    std::string piece = m.tokenizer ? m.tokenizer->piece(tok) : std::to_string(tok);
    g.text += piece;
    g.pieces.push_back(piece);
    if (onToken && !onToken(tok, piece)) break;
    if (req.stopAtEos && tok == eos) {
      g.stoppedAtEos = true;
      break;
    }
    if (i + 1 == req.maxTokens) break;
    if (m.spec.nCtx > 0 && static_cast<int>(ids.size()) >= m.spec.nCtx) break;
    ids.push_back(tok);
    pos.push_back(nextPos++);
    tr = e.run(ids, pos, req.interventions, off, {}, false);
    logits = tr->logits;
  }
  return g;
}

}  // namespace ll::rt
