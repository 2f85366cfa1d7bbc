// JSON forms of the command requests of analysis_requests.h: each field written, and read back
// with its type, range and array length checked (analysis_fields.h).
#include "runtime/analysis/analysis_requests.h"

#include "runtime/analysis/analysis_fields.h"
#include "runtime/analysis/expert_contrast.h"

namespace ll::rt::ana {
namespace {

constexpr int kMaxLayerArg = 1 << 16;  // layers and windows: the model checks the real bound
constexpr int kMaxGenerated = 1 << 16;

// Parses one request object: fill reads the fields, then unknown ones are refused.
template <typename T, typename Fill>
T parseWith(const char* name, const nlohmann::json& j, Fill fill) {
  Fields f(name, j);
  T out;
  fill(f, out);
  f.finish();
  return out;
}

}  // namespace

nlohmann::json patchCallJson(const PatchCall& c) {
  const PatchingRequest& r = c.request;
  return {{"metric", patchMetricName(r.metric)},
          {"component", patchComponentName(r.component)},
          {"direction", patchDirectionName(r.direction)},
          {"target", r.target},
          {"other", r.other},
          {"heads", r.heads},
          {"noise_begin", r.noiseBegin},
          {"noise_end", r.noiseEnd},
          {"noise_scale", r.noiseScale},
          {"noise_seed", r.noiseSeed},
          {"clean", c.clean},
          {"corrupt", c.corrupt},
          {"clean_ids", c.cleanIds},
          {"corrupt_ids", c.corruptIds},
          {"add_bos", c.addBos}};
}

PatchCall parsePatchCall(const nlohmann::json& j) {
  return parseWith<PatchCall>("patch", j, [](Fields& f, PatchCall& c) {
    PatchingRequest& r = c.request;
    std::string metric = patchMetricName(r.metric), component = patchComponentName(r.component),
                direction = patchDirectionName(r.direction);
    f.get("metric", metric);
    f.get("component", component);
    f.get("direction", direction);
    r.metric = parsePatchMetric(metric);
    r.component = parsePatchComponent(component);
    r.direction = parsePatchDirection(direction);
    f.get("target", r.target);
    f.get("other", r.other);
    f.get("heads", r.heads);
    f.get("noise_begin", r.noiseBegin);  // the span is checked against the prompt when it runs
    f.get("noise_end", r.noiseEnd);
    f.get("noise_scale", r.noiseScale);
    f.get("noise_seed", r.noiseSeed);
    f.get("clean", c.clean);
    f.get("corrupt", c.corrupt);
    f.get("clean_ids", c.cleanIds, kMaxRequestTokens);
    f.get("corrupt_ids", c.corruptIds, kMaxRequestTokens);
    f.get("add_bos", c.addBos, -1, 1);
  });
}

nlohmann::json knockoutCallJson(const KnockoutCall& c) {
  return {{"from", c.from},     {"to", c.to},       {"layer", c.layer},    {"window", c.window},
          {"answer", c.answer}, {"sweep", c.sweep}, {"readout", c.readout}};
}

KnockoutCall parseKnockoutCall(const nlohmann::json& j) {
  return parseWith<KnockoutCall>("knockout", j, [](Fields& f, KnockoutCall& c) {
    f.get("from", c.from);
    f.get("to", c.to);
    // The layer, window and answer are checked against the model when it runs.
    f.get("layer", c.layer);
    f.get("window", c.window);
    f.get("answer", c.answer);
    f.get("sweep", c.sweep);
    f.get("readout", c.readout);
  });
}

nlohmann::json steerSweepCallJson(const SteerSweepCall& c) {
  const SteeringSweepRequest& r = c.request;
  return {{"layer", r.layer},       {"alpha", r.alpha},   {"from", r.fromPos},
          {"position", r.position}, {"alphas", r.alphas}, {"layer_sweep", r.layerSweep},
          {"vector", c.vector}};
}

SteerSweepCall parseSteerSweepCall(const nlohmann::json& j) {
  return parseWith<SteerSweepCall>("steer-sweep", j, [](Fields& f, SteerSweepCall& c) {
    SteeringSweepRequest& r = c.request;
    f.get("layer", r.layer, -1, kMaxLayerArg);
    f.get("alpha", r.alpha);
    f.get("from", r.fromPos, 0, INT_MAX);
    f.get("position", r.position);
    f.get("alphas", r.alphas, kMaxSweepAlphas);
    f.get("layer_sweep", r.layerSweep);
    f.get("vector", c.vector, kMaxRequestFloats);
  });
}

nlohmann::json contrastCallJson(const ExpertContrastRequest& c) {
  return {{"task", c.task},     {"neutral", c.neutral},
          {"tau", c.tau},       {"layers", contrastLayersName(c.layers)},
          {"lambda", c.lambda}, {"promote_middle_only", c.promoteMiddleOnly}};
}

ExpertContrastRequest parseContrastCall(const nlohmann::json& j) {
  return parseWith<ExpertContrastRequest>("contrast", j, [](Fields& f, ExpertContrastRequest& c) {
    f.get("task", c.task, kMaxRequestPrompts);
    f.get("neutral", c.neutral, kMaxRequestPrompts);
    f.get("tau", c.tau);
    std::string layers = contrastLayersName(c.layers);
    f.get("layers", layers);
    c.layers = parseContrastLayers(layers);
    f.get("lambda", c.lambda);
    f.get("promote_middle_only", c.promoteMiddleOnly);
  });
}

nlohmann::json compareCallJson(const CompareCall& c) {
  return {{"teacher", c.teacher},
          {"entropy_threshold", c.request.entropyThreshold},
          {"jsd_threshold", c.request.jsdThreshold}};
}

CompareCall parseCompareCall(const nlohmann::json& j) {
  CompareCall c = parseWith<CompareCall>("compare", j, [](Fields& f, CompareCall& c) {
    f.get("teacher", c.teacher);
    f.get("entropy_threshold", c.request.entropyThreshold);
    f.get("jsd_threshold", c.request.jsdThreshold);
  });
  if (c.teacher.empty()) throw std::invalid_argument("compare: field 'teacher' must name a model");
  return c;
}

nlohmann::json routingCallJson(const RoutingCall& c) {
  return {{"coverage", c.coverage},    {"compare_text", c.compareText},
          {"add_bos", c.addBos},       {"task", c.task},
          {"neutral", c.neutral},      {"tau", c.tau},
          {"all_layers", c.allLayers}, {"dump", c.dump}};
}

RoutingCall parseRoutingCall(const nlohmann::json& j) {
  return parseWith<RoutingCall>("routing", j, [](Fields& f, RoutingCall& c) {
    f.get("coverage", c.coverage);
    if (!(c.coverage > 0.0f && c.coverage <= 1.0f))
      throw std::invalid_argument("routing: field 'coverage' must be in (0, 1]");
    f.get("compare_text", c.compareText);
    f.get("add_bos", c.addBos, -1, 1);
    f.get("task", c.task, kMaxRequestPrompts);
    f.get("neutral", c.neutral, kMaxRequestPrompts);
    f.get("tau", c.tau);
    f.get("all_layers", c.allLayers);
    f.get("dump", c.dump);
  });
}

nlohmann::json steerVectorCallJson(const SteerVectorCall& c) {
  return {{"method", c.method},     {"layer", c.layer},
          {"vector", c.vector},     {"concept", c.conceptWord},
          {"template", c.tmpl},     {"baselines", c.baselines},
          {"positive", c.positive}, {"negative", c.negative},
          {"out", c.out},           {"readout", c.readoutAlpha},
          {"from", c.from},         {"gen", c.gen},
          {"push", c.push}};
}

SteerVectorCall parseSteerVectorCall(const nlohmann::json& j) {
  return parseWith<SteerVectorCall>("steer-vector", j, [](Fields& f, SteerVectorCall& c) {
    f.get("method", c.method);
    if (c.method != "import" && c.method != "concept" && c.method != "contrastive")
      throw std::invalid_argument("steer-vector: field 'method' '" + c.method +
                                  "' is not import, concept or contrastive");
    f.get("layer", c.layer, -1, kMaxLayerArg);
    f.get("vector", c.vector, kMaxRequestFloats);
    f.get("concept", c.conceptWord);
    f.get("template", c.tmpl);
    f.get("baselines", c.baselines, kMaxRequestPrompts);
    f.get("positive", c.positive, kMaxRequestPrompts);
    f.get("negative", c.negative, kMaxRequestPrompts);
    f.get("out", c.out);
    f.get("readout", c.readoutAlpha);
    f.get("from", c.from, 0, INT_MAX);
    f.get("gen", c.gen, 0, kMaxGenerated);
    f.get("push", c.push);
  });
}

}  // namespace ll::rt::ana
