// parseExpertContrastJson (expert_contrast_parse.h): a contrast document read back, checked as
// untrusted input.
#include "runtime/analysis/expert_contrast_parse.h"

#include <cmath>
#include <stdexcept>

#include "runtime/analysis/document_fields.h"

namespace ll::rt::ana {
namespace {

// [nLayer][nExpert] rows of floats, row-major.
std::vector<float> matrix(const DocFields& f, const char* key, int rows, int cols) {
  const nlohmann::json& v = f.at(key);
  if (!v.is_array() || v.size() != size_t(rows)) f.bad(key, "must hold one row per layer");
  std::vector<float> out;
  for (const auto& row : v) {
    if (!row.is_array() || row.size() != size_t(cols)) f.bad(key, "must hold one value per expert");
    for (const auto& x : row) {
      if (!x.is_number() || !(std::fabs(x.get<double>()) <= 3.0e38))
        f.bad(key, "must hold finite numbers");
      out.push_back(static_cast<float>(x.get<double>()));
    }
  }
  return out;
}

}  // namespace

ExpertContrastResult parseExpertContrastJson(const std::string& document,
                                             const ExpertContrastRequest& sent,
                                             const ModelSpec& spec) {
  const std::string what = "contrast document";
  const nlohmann::json j = nlohmann::json::parse(document, nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument(what + ": not JSON");
  const DocFields f(what, j);
  const int L = spec.nLayer, E = spec.nExpert;
  ExpertContrastResult r;
  r.request = sent;
  r.nLayer = static_cast<int>(f.integer("n_layer", L, L));
  r.nExpert = static_cast<int>(f.integer("n_expert", E, E));
  r.nExpertUsed = static_cast<int>(f.integer("n_expert_used", 0, E));
  r.nTask = static_cast<int>(f.integer("n_task", 0, int64_t(sent.task.size())));
  r.nNeutral = static_cast<int>(f.integer("n_neutral", 0, int64_t(sent.neutral.size())));
  // The picks were made with the request's τ and layers.
  const double tau = f.number("tau");
  if (static_cast<float>(tau) != sent.tau) f.bad("tau", "differs from the request");
  if (f.text("layers") != contrastLayersName(sent.layers))
    f.bad("layers", "differ from the request");
  for (double l : f.numbers("pick_layers", -1, size_t(L))) {
    if (l != double(int(l)) || l < 0 || l >= L) f.bad("pick_layers", "holds a layer out of range");
    r.pickLayers.push_back(int(l));
  }
  r.delta = matrix(f, "delta", L, E);
  r.taskFreq = matrix(f, "task_freq", L, E);
  r.neutralFreq = matrix(f, "neutral_freq", L, E);
  const nlohmann::json& picked = f.at("picked");
  if (!picked.is_array() || picked.size() > size_t(L) * size_t(E))
    f.bad("picked", "must be an array of (layer, expert) picks");
  for (const auto& p : picked) {
    const DocFields pf(what + " picked", p);
    r.picked.emplace_back(static_cast<int>(pf.integer("layer", 0, L - 1)),
                          static_cast<int>(pf.integer("expert", 0, E - 1)));
  }
  return r;
}

}  // namespace ll::rt::ana
