// RemoteAnalysisJob's analysis panels that the server computes with its Analyze call on the helper
// session m_aux over the prompt session's trace: direct logit attribution, the latent-language
// plot, the layer skip and the flow routes. Each document is read back with its checked parser,
// cached per trace and settings as AnalysisJob caches it, so another selected token only re-reads;
// the same code as in process picks the values the panels show, so both give the same bits.
#ifdef LAYERLENS_HAVE_REMOTE
#include "runtime/analysis/attribution.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/analysis/latent_language.h"
#include "runtime/analysis/layer_skip.h"
#include "runtime/engine/engine.h"
#include "ui/remote_analysis_job.h"
#include "visualizers/qt/token_label.h"

#include <stdexcept>

namespace ll::ui {

namespace {

constexpr int kInvalidArgument = 3, kResourceExhausted = 8;  // grpc::StatusCode
constexpr int kMaxDocumentDepth = 4;

void check(const AnalysisSource::Alive& alive) {
  if (alive && !alive()) throw rt::Cancelled();
}

// A server message without the client's "server HOST:PORT: invalid argument: " (the panel shows
// the runtime's own message, as in process).
std::string serverMessage(const remote::RemoteError& e) {
  std::string what = e.what();
  for (const char* prefix : {": invalid argument: ", ": resource exhausted: "}) {
    const size_t at = what.find(prefix);
    if (at != std::string::npos) return what.substr(at + std::char_traits<char>::length(prefix));
  }
  return what;
}

}  // namespace

nlohmann::json RemoteAnalysisJob::analyze(const rt::ana::AnalysisRequest& req, const Snapshot& s,
                                          const Alive& alive) {
  // The analysis reads the prompt session's trace itself (the values the other panels show, its
  // interventions included; a run of its own would differ in the last bits wherever the prompt
  // session reused a prefix), and runs any passes of its own on m_aux.
  if (!s.trace || m_last.trace != s.trace) throw rt::Cancelled();  // a newer run superseded it
  std::string doc;
  try {
    doc = m_aux->analyze(
        rt::ana::analysisName(req), rt::ana::analysisRequestJson(req).dump(), {},
        [&](int, int) { return !alive || alive(); }, nullptr, &m_last);
  } catch (const remote::RemoteError& e) {
    if (e.code == kInvalidArgument || e.code == kResourceExhausted)
      throw std::invalid_argument(serverMessage(e));
    throw;
  }
  check(alive);
  return parseDocument(doc, rt::ana::analysisName(req));
}

nlohmann::json RemoteAnalysisJob::parseDocument(const std::string& doc, const std::string& name) {
  // The documents nest three levels (flow's edges, the layer skip's [layer][token] arrays); a
  // deeper one is refused as it is read, before it is built.
  const std::string what = "the server's " + name + " document";
  const auto depthLimit = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxDocumentDepth)
      throw std::invalid_argument(what + " is nested deeper than " +
                                  std::to_string(kMaxDocumentDepth) + " levels");
    return true;
  };
  nlohmann::json j = nlohmann::json::parse(doc, depthLimit, false);
  if (j.is_discarded()) throw std::invalid_argument(what + " is not JSON");
  return j;
}

void RemoteAnalysisJob::fillAnalyses(Snapshot& s, const Alive& alive) {
  const ViewState& st = s.state;
  if (!st.latent.wordA.empty() && !st.latent.wordB.empty()) fillLatent(s, alive);
  check(alive);
  fillAttribution(s, alive);
  check(alive);
  if (st.layerSkip.enabled && layerSkipCached(s)) runLayerSkip(s, alive);  // new passes: stream
  if (st.flow.enabled && m_flowCache.answers(s)) runFlow(s, alive);        // a new graph: stream
}

void RemoteAnalysisJob::fillAttribution(Snapshot& s, const Alive& alive) {
  AttributionModel m;
  m.nVocab = m_spec.nVocab;
  m.piece = [this](int32_t id) { return piece(id); };
  m.encode = [this](const std::string& text) { return m_session->tokenize(text, 0, false).ids; };
  m.compute = [&](const rt::ana::AttributionRequest& req) {
    return rt::ana::parseAttributionJson(analyze(req, s, alive), m_spec.nLayer, m_spec.nHead,
                                         m_spec.nVocab, s.nTokens);
  };
  m_attribution.fill(s, m);
}

void RemoteAnalysisJob::fillLatent(Snapshot& s, const Alive& alive) {
  const LatentLanguageSettings& st = s.state.latent;
  LatentCache& c = m_latentCache;
  if (!(c.trace == s.trace && c.wordA == st.wordA && c.wordB == st.wordB)) {
    c = {};
    rt::ana::LatentLanguageRequest rq;
    rq.wordA = st.wordA;
    rq.wordB = st.wordB;
    try {
      c.result =
          std::make_shared<const rt::ana::LatentLanguageResult>(rt::ana::parseLatentLanguageJson(
              analyze(rq, s, alive), m_spec.nLayer, s.nTokens, m_spec.nVocab));
    } catch (const std::invalid_argument& e) {
      c.error = QString::fromUtf8(e.what());
    }
    c.trace = s.trace;
    c.wordA = st.wordA;
    c.wordB = st.wordB;
  }
  s.latent = c.result;
  s.latentError = c.error;
  if (c.result) {
    for (int32_t id : c.result->tokensA) s.latentTokensA << vis::tokenLabel(piece(id));
    for (int32_t id : c.result->tokensB) s.latentTokensB << vis::tokenLabel(piece(id));
  }
}

bool RemoteAnalysisJob::layerSkipCached(const Snapshot& s) const {
  const LayerSkipCache& c = m_skipCache;
  return c.result && c.trace == s.trace && c.part == s.state.layerSkip.part;
}

void RemoteAnalysisJob::runLayerSkip(Snapshot& s, const Alive& alive) {
  LayerSkipCache& c = m_skipCache;
  try {
    if (!layerSkipCached(s)) {
      c = {};
      rt::ana::LayerSkipRequest rq;
      rq.position = s.token;
      rq.part = s.state.layerSkip.part;
      rq.allPositions = true;  // another selected token re-reads them instead of nLayer passes
      rt::ana::LayerSkipPositions at;
      auto r = rt::ana::parseLayerSkipJson(analyze(rq, s, alive), m_spec.nLayer, s.nTokens,
                                           m_spec.nVocab, &at);
      if (r.part != rq.part)
        throw std::invalid_argument("layer-skip document: field 'sublayer' is not the request's");
      c = {s.trace, rq.part, std::make_shared<const rt::ana::LayerSkipResult>(std::move(r)),
           std::move(at)};
    }
    if (c.result->position == s.token) {
      s.layerSkip = c.result;
    } else {
      auto moved = std::make_shared<rt::ana::LayerSkipResult>(*c.result);
      rt::ana::selectPosition(c.positions, *moved, s.token);
      s.layerSkip = std::move(moved);
    }
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const remote::RemoteError&) {
    throw;  // the connection's failure: the window's error, not the panel's
  } catch (const std::exception& e) {
    s.layerSkipError = QString::fromUtf8(e.what());
  }
}

void RemoteAnalysisJob::runFlow(Snapshot& s, const Alive& alive) {
  FlowCache& c = m_flowCache;
  try {
    if (!c.answers(s)) {
      c = {};
      rt::ana::FlowRequest rq;
      rq.threshold = s.state.flow.threshold;
      auto g = rt::ana::parseFlowJson(analyze(rq, s, alive), m_spec.nLayer, s.trace->ids);
      if (g.threshold != rq.threshold)
        throw std::invalid_argument("flow document: field 'threshold' is not the request's");
      c = {s.trace, rq.threshold, std::make_shared<const rt::ana::FlowGraph>(std::move(g))};
    }
    s.flow = c.graph;
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const remote::RemoteError&) {
    throw;
  } catch (const std::exception& e) {
    s.flowError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
#endif
