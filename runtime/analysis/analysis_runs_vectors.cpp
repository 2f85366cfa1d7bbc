// The routing and steer-vector command analyses (analysis_runs.h): routing's statistics under the
// run's interventions with its dump arrays, and a steering vector built on the model (returned as
// an array for the client to write) with its readouts.
#include <cmath>
#include <stdexcept>

#include "runtime/analysis/analysis_runs.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/steering.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt::ana {
namespace {

using Json = nlohmann::json;

// [rows][cols] of a row-major matrix, as the documents write them.
template <typename T>
std::vector<std::vector<T>> rowsOf(const std::vector<T>& m, int rows, int cols) {
  std::vector<std::vector<T>> out;
  for (int r = 0; r < rows; ++r)
    out.emplace_back(m.begin() + size_t(r) * cols, m.begin() + size_t(r + 1) * cols);
  return out;
}

// The expert picker of `routing` (the expert contrast of `contrast`, middle layers by default).
Json routingPicker(Session& s, const RoutingCall& c, const RunProgress& progress) {
  if (c.task.empty() || c.neutral.empty())
    throw std::invalid_argument("routing: the expert picker needs --task and --neutral");
  ExpertContrastRequest rq;
  rq.task = c.task;
  rq.neutral = c.neutral;
  rq.tau = c.tau;
  rq.layers = c.allLayers ? ContrastLayers::All : ContrastLayers::Middle;
  const auto r = expertContrast(s, rq, progress);
  Json picks = Json::array();
  for (auto [l, e] : r.picked)
    picks.push_back({{"layer", l}, {"expert", e}, {"delta", r.at(l, e)}});
  return {{"tau", c.tau}, {"layers", r.pickLayers}, {"experts", picks}};
}

std::vector<float> buildVector(Session& s, const SteerVectorCall& c, int layer) {
  if (c.method == "import") return c.vector;
  if (c.method == "concept") {
    if (c.baselines.empty())
      throw std::invalid_argument("steer-vector: --concept needs --baseline FILE");
    ConceptInput in;
    in.word = tokenize(s, fillTemplate(c.tmpl, c.conceptWord));
    for (const auto& w : c.baselines) in.baselines.push_back(tokenize(s, fillTemplate(c.tmpl, w)));
    return conceptVector(s, layer, in);
  }
  if (c.positive.empty() || c.negative.empty())
    throw std::invalid_argument("steer-vector: give --pos and --neg, or --concept and --baseline");
  std::vector<std::vector<int32_t>> p, n;
  for (const auto& t : c.positive) p.push_back(tokenize(s, t));
  for (const auto& t : c.negative) n.push_back(tokenize(s, t));
  return contrastiveVector(s, layer, p, n);
}

Json steerReadout(Session& s, const SteerVectorCall& c, int layer, const std::vector<float>& v) {
  if (s.promptIds().empty())
    throw std::invalid_argument("steer-vector: --readout needs --text or --ids");
  Steering st{layer, c.readoutAlpha, c.from, v};
  const auto r = steeringReadout(s, s.promptIds(), st, c.gen);
  const int P = static_cast<int>(r.positions.size());
  std::string continuation;
  for (size_t i = r.nPrompt; i < r.ids.size(); ++i)
    continuation +=
        s.model().tokenizer ? s.model().tokenizer->piece(r.ids[i]) : std::to_string(r.ids[i]);
  return {{"alpha", c.readoutAlpha},
          {"push_ratio", r.pushRatio},
          {"first_layer", r.firstLayer},
          {"positions", r.positions},
          {"n_prompt", r.nPrompt},
          {"continuation", continuation},
          {"diff_norm", rowsOf(r.diffNorm, r.nLayers, P)},
          {"cos_steered_ref", rowsOf(r.cosine, r.nLayers, P)},
          {"cos_diff_vector", rowsOf(r.cosineWithVector, r.nLayers, P)}};
}

}  // namespace

AnalysisOutput runRouting(Session& s, const RoutingCall& c, const RunRequest& base,
                          const RunProgress& progress) {
  if (s.model().spec.nExpert <= 0)
    throw std::invalid_argument("routing: the model is not a MoE model");
  if (!(c.coverage > 0.0f && c.coverage <= 1.0f))
    throw std::invalid_argument("routing: the coverage must be in (0, 1]");
  auto tr = s.run(base, progress);
  const int T = tr->nTokens, E = tr->nExpert, L = tr->nLayer;
  Json j;
  j["n_tokens"] = T;
  j["n_expert"] = E;
  j["n_expert_used"] = tr->nExpertUsed;
  j["moe_layers"] = moeLayers(*tr);
  auto load = expertLoad(*tr);
  j["load"] = rowsOf(load, L, E);
  j["experts_per_token"] = rowsOf(expertsPerToken(*tr, c.coverage), L, T);
  j["coverage"] = c.coverage;
  auto over = overForcedLayers(base.interventions.router, tr->nExpertUsed);
  if (!over.empty()) j["warning_more_forced_than_k"] = over;
  if (!c.compareText.empty()) {
    // The second prompt on this session, so it runs wherever the first did (a split server's
    // pipeline, whose rank 0 holds only its stage's weights); the prompt is given back after.
    const std::vector<int32_t> first = s.promptIds();
    s.setPrompt(c.compareText, c.addBos);
    j["jsd"] = routingJsd(*tr, *s.run(base, progress));
    s.setPromptIds(first);
  }
  if (!c.task.empty() || !c.neutral.empty()) j["picker"] = routingPicker(s, c, progress);
  AnalysisOutput out;
  if (!c.dump.empty()) {
    for (int l : moeLayers(*tr))
      out.arrays.push_back(
          {"routing-" + std::to_string(l) + ".npy", {T, E}, tokenExpertMatrix(*tr, l)});
    out.arrays.push_back({"load.npy", {L, E}, std::move(load)});
    j["dump"] = c.dump;
  }
  out.document = j.dump(1, ' ', false, Json::error_handler_t::replace);
  return out;
}

AnalysisOutput runSteerVector(Session& s, const SteerVectorCall& c, const RunProgress& progress) {
  const int L = s.model().spec.nLayer, d = s.model().spec.nEmbd;
  const int layer = c.layer >= 0 ? c.layer : defaultSteeringLayer(L);
  const std::vector<float> v = buildVector(s, c, layer);
  if (static_cast<int64_t>(v.size()) != d)
    throw std::invalid_argument("steer-vector: the vector has " + std::to_string(v.size()) +
                                " values, the model's n_embd is " + std::to_string(d));
  Json j;
  j["method"] = c.method;
  double n2 = 0;
  for (float x : v) n2 += double(x) * x;
  j["layer"] = layer;
  j["norm"] = std::sqrt(n2);
  j["out"] = c.out;
  if (c.push && !s.promptIds().empty())
    j["push_ratio_alpha1"] = pushRatio(*s.run({}, progress), layer, v, 1.0f);
  if (c.readoutAlpha != 0.0f) j["readout"] = steerReadout(s, c, layer, v);
  AnalysisOutput out;
  out.document = j.dump(1, ' ', false, Json::error_handler_t::replace);
  out.arrays.push_back({"vector", {d}, v});
  return out;
}

}  // namespace ll::rt::ana
