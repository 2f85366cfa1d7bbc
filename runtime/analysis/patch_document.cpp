// The `patch` document and arrays (patch_document.h), written and read back.
#include "runtime/analysis/patch_document.h"

#include <stdexcept>

#include "runtime/analysis/document_fields.h"

namespace ll::rt::ana {

AnalysisOutput patchOutput(const PatchingResult& r) {
  const PatchingRequest& rq = r.request;
  nlohmann::json j;
  j["target"] = rq.target;
  j["other"] = rq.other;
  j["metric"] = patchMetricName(rq.metric);
  j["component"] = patchComponentName(rq.component);
  j["direction"] = patchDirectionName(rq.direction);
  j["metric_clean"] = r.metricClean;
  j["metric_corrupt"] = r.metricCorrupt;
  j["first_diff"] = r.firstDiff;
  j["n_layer"] = r.nLayer;
  j["n_tokens"] = r.nTokens;
  j["passes"] = r.passes;
  AnalysisOutput out;
  // printJson's form (invalid UTF-8 replaced; the document holds none, but the form is one).
  out.document = j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.arrays.push_back({"effect", {r.nLayer, r.nTokens}, r.effect});
  out.arrays.push_back({"metric", {r.nLayer, r.nTokens}, r.metric});
  if (rq.heads) {
    out.arrays.push_back({"heads", {r.nLayer, r.nHead}, r.headEffect});
    out.arrays.push_back({"head_metric", {r.nLayer, r.nHead}, r.headMetric});
  }
  return out;
}

PatchingResult parsePatchOutput(const std::string& document, const std::vector<OutputArray>& arrays,
                                const PatchingRequest& sent, const std::vector<int32_t>& clean,
                                const std::vector<int32_t>& corrupt, const ModelSpec& spec) {
  const std::string what = "patch document";
  const nlohmann::json j = nlohmann::json::parse(document, nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument(what + ": not JSON");
  const DocFields f(what, j);
  const int L = spec.nLayer, H = spec.nHead, T = static_cast<int>(clean.size());
  PatchingResult r;
  r.nLayer = static_cast<int>(f.integer("n_layer", L, L));
  r.nTokens = static_cast<int>(f.integer("n_tokens", T, T));
  r.nHead = H;
  r.request = sent;
  r.request.target = static_cast<int32_t>(f.integer("target", 0, spec.nVocab - 1));
  r.request.other = static_cast<int32_t>(f.integer("other", 0, spec.nVocab - 1));
  // The names echo the request: a document for another request is refused.
  if (f.text("metric") != patchMetricName(sent.metric)) f.bad("metric", "differs from the request");
  if (f.text("component") != patchComponentName(sent.component))
    f.bad("component", "differs from the request");
  if (f.text("direction") != patchDirectionName(sent.direction))
    f.bad("direction", "differs from the request");
  r.metricClean = f.number("metric_clean");
  r.metricCorrupt = f.number("metric_corrupt");
  r.firstDiff = static_cast<int>(f.integer("first_diff", 0, T));
  r.passes = static_cast<int>(f.integer("passes", 0, INT32_MAX));
  r.clean = clean;
  r.corrupted = corrupt.empty() ? clean : corrupt;
  r.effect = outputArrayOf(arrays, "effect", {L, T}, what).data;
  r.metric = outputArrayOf(arrays, "metric", {L, T}, what).data;
  if (sent.heads) {
    r.headEffect = outputArrayOf(arrays, "heads", {L, H}, what).data;
    r.headMetric = outputArrayOf(arrays, "head_metric", {L, H}, what).data;
  }
  return r;
}

}  // namespace ll::rt::ana
