// Named analyses over JSON requests (analysis_call.h): the request fields checked one by one, the
// base run, and the documents the CLI commands write.
#include "runtime/analysis/analysis_call.h"

#include <iterator>
#include <stdexcept>

#include "runtime/analysis/analysis_fields.h"
#include "runtime/analysis/analysis_runs.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt::ana {
namespace {

SelectCall parseSelect(Fields& f) {
  SelectCall c;
  std::string method = selectionMethodKey(c.selection.method);
  f.get("method", method);
  const auto m = parseSelectionMethod(method);
  if (!m)
    throw std::invalid_argument("select: unknown selection method '" + method +
                                "' (gemfilter, snapkv, h2o, promptdistill)");
  c.selection.method = *m;
  // Ranges are resolveSelection's (it names them when the request runs against the prompt).
  for (const auto& p : selectionIntParams()) f.get(p.name, c.selection.*p.field);
  f.get("max_pool", c.selection.maxPool);
  f.get("stages", c.selection.stages);
  f.get("answer", c.answer, 0, kMaxAnswerTokens);
  f.get("sweep", c.sweep);
  return c;
}

nlohmann::json selectJson(const SelectCall& c) {
  nlohmann::json j = {{"method", selectionMethodKey(c.selection.method)},
                      {"max_pool", c.selection.maxPool},
                      {"stages", c.selection.stages},
                      {"answer", c.answer},
                      {"sweep", c.sweep}};
  for (const auto& p : selectionIntParams()) j[p.name] = c.selection.*p.field;
  return j;
}

// Throws Cancelled when progress says stop (between the stages of an analysis).
void checkLive(const RunProgress& progress, int done, int n) {
  if (progress && !progress(done, n)) throw Cancelled();
}

const Tokenizer& tokenizerOf(const Session& s) {
  if (!s.model().tokenizer) throw std::invalid_argument("the model has no tokenizer");
  return *s.model().tokenizer;
}

}  // namespace

std::shared_ptr<const Trace> baseTrace(Session& s, const RunRequest& base,
                                       const RunProgress& progress, const AnalysisEnv& env) {
  if (!env.trace) return s.run(base, progress);
  const ModelSpec& m = s.model().spec;
  const Trace& t = *env.trace;
  if (t.nLayer != m.nLayer || t.nEmbd != m.nEmbd || t.nVocab != m.nVocab || t.nHead != m.nHead)
    throw std::invalid_argument("the given trace is not of this model");
  return env.trace;
}

const char* analysisName(const AnalysisRequest& req) {
  static constexpr const char* kNames[] = {"select",   "attribute", "skip",     "latent",
                                           "flow",     "patch",     "knockout", "steer-sweep",
                                           "contrast", "compare",   "routing",  "steer-vector"};
  static_assert(std::size(kNames) == std::variant_size_v<AnalysisRequest>);
  return kNames[req.index()];
}

nlohmann::json analysisRequestJson(const AnalysisRequest& req) {
  struct V {
    nlohmann::json operator()(const SelectCall& c) const { return selectJson(c); }
    nlohmann::json operator()(const AttributionRequest& r) const {
      return {{"target", r.target}, {"other", r.other}, {"position", r.position}};
    }
    nlohmann::json operator()(const LayerSkipRequest& r) const {
      return {{"position", r.position},
              {"sublayer", skipPartName(r.part)},
              {"all_positions", r.allPositions}};
    }
    nlohmann::json operator()(const LatentLanguageRequest& r) const {
      return {{"word_a", r.wordA}, {"word_b", r.wordB}, {"position", r.position}};
    }
    nlohmann::json operator()(const FlowRequest& r) const {
      return {{"threshold", r.threshold},
              {"position", r.position},
              {"prune", r.prune},
              {"threads", r.threads}};
    }
    nlohmann::json operator()(const PatchCall& c) const { return patchCallJson(c); }
    nlohmann::json operator()(const KnockoutCall& c) const { return knockoutCallJson(c); }
    nlohmann::json operator()(const SteerSweepCall& c) const { return steerSweepCallJson(c); }
    nlohmann::json operator()(const ExpertContrastRequest& c) const { return contrastCallJson(c); }
    nlohmann::json operator()(const CompareCall& c) const { return compareCallJson(c); }
    nlohmann::json operator()(const RoutingCall& c) const { return routingCallJson(c); }
    nlohmann::json operator()(const SteerVectorCall& c) const { return steerVectorCallJson(c); }
  };
  return std::visit(V{}, req);
}

AnalysisRequest parseAnalysisRequest(const std::string& name, const nlohmann::json& request) {
  constexpr int kMaxThreads = 1024;
  AnalysisRequest out;
  if (name == "select") {
    Fields f("select", request);
    out = parseSelect(f);
    f.finish();
  } else if (name == "attribute") {
    Fields f("attribute", request);
    AttributionRequest r;
    f.get("target", r.target);
    f.get("other", r.other);
    f.get("position", r.position);
    f.finish();
    out = r;
  } else if (name == "skip") {
    Fields f("skip", request);
    LayerSkipRequest r;
    std::string part = skipPartName(r.part);
    f.get("position", r.position);
    f.get("sublayer", part);
    f.get("all_positions", r.allPositions);
    r.part = parseSkipPart(part);
    f.finish();
    out = r;
  } else if (name == "latent") {
    Fields f("latent", request);
    LatentLanguageRequest r;
    f.get("word_a", r.wordA);
    f.get("word_b", r.wordB);
    f.get("position", r.position);
    f.finish();
    if (r.wordA.empty() || r.wordB.empty())
      throw std::invalid_argument("latent: word_a and word_b must not be empty");
    out = r;
  } else if (name == "flow") {
    Fields f("flow", request);
    FlowRequest r;
    f.get("threshold", r.threshold);
    f.get("position", r.position);
    f.get("prune", r.prune);
    f.get("threads", r.threads, 0, kMaxThreads);
    f.finish();
    out = r;
  } else if (name == "patch") {
    out = parsePatchCall(request);
  } else if (name == "knockout") {
    out = parseKnockoutCall(request);
  } else if (name == "steer-sweep") {
    out = parseSteerSweepCall(request);
  } else if (name == "contrast") {
    out = parseContrastCall(request);
  } else if (name == "compare") {
    out = parseCompareCall(request);
  } else if (name == "routing") {
    out = parseRoutingCall(request);
  } else if (name == "steer-vector") {
    out = parseSteerVectorCall(request);
  } else {
    throw std::invalid_argument("unknown analysis '" + name +
                                "' (select, attribute, skip, latent, flow, patch, knockout, "
                                "steer-sweep, contrast, compare, routing, steer-vector)");
  }
  return out;
}

AnalysisOutput runAnalysis(Session& s, const AnalysisRequest& req, const RunRequest& base,
                           const RunProgress& progress, const AnalysisEnv& env) {
  // steer-sweep compares its passes with the trace's own logits and residuals, compare the
  // teacher's with the trace's logits: they read one.
  if (env.trace && !std::holds_alternative<SteerSweepCall>(req) &&
      !std::holds_alternative<CompareCall>(req) &&
      (std::holds_alternative<SelectCall>(req) ||
       req.index() >= std::variant_size_v<AnalysisRequest> - kCommandAnalyses))
    throw std::invalid_argument(std::string(analysisName(req)) +
                                ": runs its own passes and reads no given trace");
  if (req.index() >= std::variant_size_v<AnalysisRequest> - kCommandAnalyses)
    return runCommandAnalysis(s, req, base, progress, env);
  AnalysisOutput out;
  const int nLayer = s.model().spec.nLayer;
  if (const auto* c = std::get_if<SelectCall>(&req)) {
    // A base with interventions is always run, so the selection reads the intervened model;
    // PromptDistill runs its own stages and reads only the interventions from the trace, so it
    // gets them without a pass (the session's cache stays as the stages alone leave it, as in
    // the GUI's own session, so a remote GUI's selection is the local one bit for bit).
    std::shared_ptr<const Trace> tr;
    Trace carrier;
    const bool distill = c->selection.method == SelectionMethod::PromptDistill && !base.subset;
    if (distill && !(base.interventions == Interventions{})) {
      carrier.nTokens = static_cast<int>(s.promptIds().size());
      carrier.request = base;
    } else if (selectNeedsTrace(*c) || !(base.interventions == Interventions{}) || base.subset) {
      tr = s.run(base, progress);
    }
    const Trace* read =
        tr ? tr.get() : (carrier.request.interventions == Interventions{} ? nullptr : &carrier);
    const nlohmann::json j = selectionDocument(s, read, *c);
    out.document = j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
    return out;
  }
  if (const auto* r = std::get_if<AttributionRequest>(&req)) {
    const int T = env.trace ? env.trace->nTokens : static_cast<int>(s.promptIds().size());
    if (T == 0) throw std::invalid_argument("the prompt has no tokens");
    if (r->position < -1 || r->position >= T)
      throw std::invalid_argument("--position " + std::to_string(r->position) +
                                  " is out of range (0.." + std::to_string(T - 1) + ")");
    auto tr = baseTrace(s, base, progress, env);
    checkLive(progress, nLayer, nLayer);
    Attribution a = directLogitAttribution(s.engine(), *tr, *r);
    out.document = attributionJson(a);
    out.result = std::move(a);
    return out;
  }
  if (const auto* r = std::get_if<LayerSkipRequest>(&req)) {
    auto tr = baseTrace(s, base, progress, env);
    LayerSkipResult res = layerSkip(s, *tr, *r, progress);
    if (r->allPositions) {
      const LayerSkipPositions all = layerSkipPositions(*tr);
      out.document = layerSkipJson(res, &all).dump(1);
    } else {
      out.document = layerSkipJson(res).dump(1);
    }
    out.result = std::move(res);
    return out;
  }
  if (const auto* r = std::get_if<LatentLanguageRequest>(&req)) {
    const Tokenizer& tok = tokenizerOf(s);
    auto tr = baseTrace(s, base, progress, env);
    checkLive(progress, nLayer, nLayer);
    LatentLanguageResult res = latentLanguage(s.engine(), *tr, tok, *r);
    out.document = latentLanguageJson(res).dump(1);
    out.result = std::move(res);
    return out;
  }
  const auto& r = std::get<FlowRequest>(req);
  auto tr = baseTrace(s, base, progress, env);
  FlowGraph g = flowGraph(s.engine(), *tr, r, progress);
  checkLive(progress, nLayer, nLayer);
  out.document = flowJson(g, flowRoutes(g, r.position), tr->ids).dump(1);
  out.result = std::move(g);
  return out;
}

}  // namespace ll::rt::ana
