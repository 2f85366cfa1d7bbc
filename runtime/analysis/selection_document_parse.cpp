// The inverse of selectionDocument for PromptDistill (selection_document.h): a client that ran the
// selection on a server reads its outcome back, checked as any untrusted input.
#include <stdexcept>

#include "runtime/analysis/document_fields.h"
#include "runtime/analysis/selection_document.h"

namespace ll::rt::ana {
namespace {

// A list of prompt positions, each in [0, T).
std::vector<int> positions(const DocFields& f, const char* key, const nlohmann::json& list, int T) {
  if (!list.is_array() || list.size() > size_t(T)) f.bad(key, "must hold lists of positions");
  std::vector<int> out;
  for (const auto& x : list) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= T)
      f.bad(key, "holds a position out of range (0.." + std::to_string(T - 1) + ")");
    out.push_back(x.get<int>());
  }
  return out;
}

// One list of positions per stage.
std::vector<std::vector<int>> stageLists(const DocFields& f, const char* key, size_t n, int T) {
  const nlohmann::json& v = f.at(key);
  if (!v.is_array() || v.size() != n)
    f.bad(key, "must hold one list per stage (" + std::to_string(n) + ")");
  std::vector<std::vector<int>> out;
  for (const auto& list : v) out.push_back(positions(f, key, list, T));
  return out;
}

}  // namespace

SelectionOutcome parsePromptDistillDocument(const std::string& document,
                                            const SelectionRequest& req, int nTokens,
                                            const ModelSpec& spec) {
  const std::string what = "select document";
  const nlohmann::json j = nlohmann::json::parse(document, nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument(what + ": not JSON");
  const DocFields f(what, j);
  const int T = nTokens;
  SelectionOutcome o;
  o.params = resolveSelection(req, T, spec.nLayer);
  if (o.params.method != SelectionMethod::PromptDistill)
    throw std::invalid_argument(what + ": the request is not PromptDistill");
  // The document answers this request: its method and parameters are the ones resolved here.
  if (f.text("method") != selectionMethodKey(o.params.method))
    f.bad("method", "differs from the request");
  if (f.at("params") != nlohmann::json(o.params.record()))
    f.bad("params", "differ from the request");
  const size_t stages = o.params.stages.size();
  o.distill.keptPerStage = stageLists(f, "kept_per_stage", stages, T);
  const nlohmann::json& sc = f.at("scores_per_stage");
  if (!sc.is_array() || sc.size() != stages) f.bad("scores_per_stage", "must hold one per stage");
  for (const auto& stage : sc) {
    // A stage scores at most the prompt's positions (the first one every position).
    if (!stage.is_array() || stage.size() > size_t(T))
      f.bad("scores_per_stage", "must hold at most one score per prompt position per stage");
    std::vector<float> s;
    for (const auto& x : stage) {
      if (!x.is_number()) f.bad("scores_per_stage", "must hold numbers only");
      s.push_back(static_cast<float>(x.get<double>()));
    }
    o.distill.scoresPerStage.push_back(std::move(s));
  }
  o.distill.survivorsPerLayer.clear();
  for (double x : f.numbers("survivors_per_layer", spec.nLayer)) {
    if (x != double(int(x)) || x < 0 || x > T) f.bad("survivors_per_layer", "out of range");
    o.distill.survivorsPerLayer.push_back(int(x));
  }
  o.selection.kept = positions(f, "kept", f.at("kept"), T);
  if (o.selection.kept != o.distill.keptPerStage.back())
    f.bad("kept", "differs from the last stage's kept set");
  o.selection.scores = o.distill.scoresPerStage.back();
  o.tokenScores = o.distill.scoresPerStage.front();
  o.tokenScores.resize(size_t(T), 0.0f);
  if (f.has("reason")) o.reason = f.text("reason");
  const nlohmann::json& w = f.at("warnings");
  if (!w.is_array()) f.bad("warnings", "must be an array of strings");
  for (const auto& x : w) {
    if (!x.is_string()) f.bad("warnings", "must be an array of strings");
    o.warnings.push_back(x.get<std::string>());
  }
  return o;
}

}  // namespace ll::rt::ana
