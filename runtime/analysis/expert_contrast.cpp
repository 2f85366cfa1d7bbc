// Expert contrast (ALGORITHMS.md §9): per-set routing frequencies, their difference and the picks.
#include "runtime/analysis/expert_contrast.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "runtime/analysis/routing_stats.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace ll::rt::ana {

std::string contrastLayersName(ContrastLayers layers) {
  return layers == ContrastLayers::Middle ? "middle" : "all";
}

ContrastLayers parseContrastLayers(const std::string& name) {
  if (name == "all") return ContrastLayers::All;
  if (name == "middle") return ContrastLayers::Middle;
  throw std::invalid_argument("layers '" + name + "' is not one of all, middle");
}

std::vector<int> contrastLayerList(ContrastLayers layers, int nLayer) {
  if (layers == ContrastLayers::Middle) return middleLayers(nLayer);
  std::vector<int> out;
  for (int l = 0; l < nLayer; ++l) out.push_back(l);
  return out;
}

namespace {

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::vector<std::string> nonBlank(const std::vector<std::string>& prompts, const char* set) {
  std::vector<std::string> out;
  for (const auto& p : prompts)
    if (!blank(p)) out.push_back(p);
  if (out.empty())
    throw std::invalid_argument(std::string("expert contrast: the ") + set +
                                " set has no prompts (one per line)");
  return out;
}

}  // namespace

ExpertContrastResult expertContrast(Session& s, const ExpertContrastRequest& req,
                                    const ContrastProgress& progress) {
  const ModelSpec& spec = s.model().spec;
  if (spec.nExpert <= 0)
    throw std::invalid_argument("expert contrast: the model has no experts (not a MoE model)");
  if (!std::isfinite(req.tau)) throw std::invalid_argument("expert contrast: τ must be a number");
  const auto task = nonBlank(req.task, "task"), neutral = nonBlank(req.neutral, "neutral");
  ExpertContrastResult r;
  r.request = req;
  r.nLayer = spec.nLayer;
  r.nExpert = spec.nExpert;
  r.nExpertUsed = spec.nExpertUsed;
  r.nTask = static_cast<int>(task.size());
  r.nNeutral = static_cast<int>(neutral.size());
  const size_t cells = size_t(r.nLayer) * r.nExpert;
  const int total = r.nTask + r.nNeutral;
  int done = 0;
  // Mean over the set's prompts of each prompt's expertLoad.
  auto frequencies = [&](const std::vector<std::string>& prompts) {
    std::vector<double> acc(cells, 0.0);
    for (const auto& p : prompts) {
      const auto ids = tokenize(s, p);
      if (ids.empty())
        throw std::invalid_argument("expert contrast: '" + p + "' tokenizes to no tokens");
      const auto load = expertLoad(*runIds(s, ids, {}, true, {}, false));
      for (size_t i = 0; i < cells; ++i) acc[i] += load[i];
      if (progress && !progress(++done, total)) throw Cancelled();
    }
    std::vector<float> out(cells);
    for (size_t i = 0; i < cells; ++i) out[i] = static_cast<float>(acc[i] / prompts.size());
    return out;
  };
  r.taskFreq = frequencies(task);
  r.neutralFreq = frequencies(neutral);
  r.delta.resize(cells);
  for (size_t i = 0; i < cells; ++i) r.delta[i] = r.taskFreq[i] - r.neutralFreq[i];
  applyPicks(r, req);
  return r;
}

void applyPicks(ExpertContrastResult& r, const ExpertContrastRequest& req) {
  if (!std::isfinite(req.tau)) throw std::invalid_argument("expert contrast: τ must be a number");
  r.request = req;
  r.pickLayers = contrastLayerList(req.layers, r.nLayer);
  r.picked = pickExperts(r.taskFreq, r.neutralFreq, r.nLayer, r.nExpert, req.tau, r.pickLayers);
}

std::vector<RouterEdit> contrastEdits(const ExpertContrastResult& r, ContrastAction action) {
  switch (action) {
    case ContrastAction::SwitchOff:
      return switchOff(r.picked);
    case ContrastAction::HardForce:
      return hardForce(r.picked);
    case ContrastAction::SoftPromotion:
      break;
  }
  std::vector<std::pair<int, int>> chosen = r.picked;
  if (r.request.promoteMiddleOnly) {
    const auto mid = middleLayers(r.nLayer);
    std::erase_if(chosen, [&](const std::pair<int, int>& le) {
      return std::find(mid.begin(), mid.end(), le.first) == mid.end();
    });
  }
  return softPromotion(chosen, r.request.lambda);
}

nlohmann::json expertContrastJson(const ExpertContrastResult& r) {
  auto rows = [&](const std::vector<float>& m) {
    nlohmann::json a = nlohmann::json::array();
    for (int l = 0; l < r.nLayer; ++l)
      a.push_back(std::vector<float>(m.begin() + size_t(l) * r.nExpert,
                                     m.begin() + size_t(l + 1) * r.nExpert));
    return a;
  };
  nlohmann::json j;
  j["n_layer"] = r.nLayer;
  j["n_expert"] = r.nExpert;
  j["n_expert_used"] = r.nExpertUsed;
  j["n_task"] = r.nTask;
  j["n_neutral"] = r.nNeutral;
  j["tau"] = r.request.tau;
  j["layers"] = contrastLayersName(r.request.layers);
  j["pick_layers"] = r.pickLayers;
  j["delta"] = rows(r.delta);
  j["task_freq"] = rows(r.taskFreq);
  j["neutral_freq"] = rows(r.neutralFreq);
  nlohmann::json picked = nlohmann::json::array();
  for (auto [l, e] : r.picked)
    picked.push_back({{"layer", l}, {"expert", e}, {"delta", r.at(l, e)}});
  j["picked"] = picked;
  // The one-click interventions on the picks, as the GUI applies them.
  auto list = [&](ContrastAction a, const char* value) {
    nlohmann::json out = nlohmann::json::array();
    for (const RouterEdit& e : contrastEdits(r, a)) {
      nlohmann::json x = {{"layer", e.layer}, {"expert", e.expert}};
      if (value) x[value] = e.value;
      out.push_back(x);
    }
    return out;
  };
  j["edits"] = {{"switch_off", list(ContrastAction::SwitchOff, nullptr)},
                {"hard_force", list(ContrastAction::HardForce, "eps")},
                {"soft_promotion", list(ContrastAction::SoftPromotion, "lambda")}};
  j["over_forced_layers"] =
      overForcedLayers(contrastEdits(r, ContrastAction::HardForce), r.nExpertUsed);
  return j;
}

}  // namespace ll::rt::ana
