// `select`'s JSON document (selection_document.h), moved here from the CLI command so the server
// builds it with the same code.
#include "runtime/analysis/selection_document.h"

#include <string>
#include <vector>

#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/stats.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt::ana {
namespace {

std::string textOf(const Session& s, const std::vector<int32_t>& ids) {
  const auto& m = s.model();
  std::string t;
  for (int32_t id : ids) t += m.tokenizer ? m.tokenizer->piece(id) : std::to_string(id);
  return t;
}

nlohmann::json answerJson(const Session& s, const Answers& a) {
  return {{"full", {{"ids", a.full}, {"text", textOf(s, a.full)}}},
          {"kept", {{"ids", a.compressed}, {"text", textOf(s, a.compressed)}}}};
}

// tr: the run whose interventions the stages ran under (the answer runs under them too), or null.
void promptDistillJson(nlohmann::json& j, Session& s, const Trace* tr, const SelectionOutcome& o,
                       int answer) {
  const SelectionParams& p = o.params;
  j["kept"] = o.kept();
  j["scores"] = o.selection.scores;
  j["kept_per_stage"] = o.distill.keptPerStage;
  j["scores_per_stage"] = o.distill.scoresPerStage;
  j["survivors_per_layer"] = o.distill.survivorsPerLayer;
  j["kv_trim"] = p.kvTrim;
  if (answer > 0) {
    std::vector<int> layers;
    for (const auto& x : p.stages) layers.push_back(x.layer);
    j["answer"] = answerJson(s, answerDistilled(s, layers, o.distill.keptPerStage, p.kvTrim, answer,
                                                tr ? tr->request.interventions : Interventions{}));
  }
}

// SnapKV / H2O: per-head sets, their overlap with GemFilter at the same layer and, with an
// answer, the eviction in every layer, per kv head (selection_runs.h: GQA sums a group's heads;
// H2O is a static eviction after prefill).
void evictionJson(nlohmann::json& j, Session& s, const Trace& tr, const SelectionOutcome& o,
                  const SelectionRequest& req, int answer) {
  const SelectionParams& p = o.params;
  j["kept_per_head"] = o.selection.keptPerHead;
  j["scores_per_head"] = o.selection.scoresPerHead;
  SelectionRequest gemReq = req;
  gemReq.method = SelectionMethod::GemFilter;
  const auto gem = runSelection(s, &tr, gemReq);
  std::vector<double> jac;
  for (const auto& h : o.selection.keptPerHead) jac.push_back(jaccard(h, gem.kept()));
  j["jaccard_with_gemfilter"] = jac;
  if (answer <= 0) return;
  std::vector<std::vector<std::vector<int>>> perLayer;
  const HeadEviction ev =
      p.method == SelectionMethod::SnapKv
          ? snapKvEviction(tr, p.capacity, p.window, p.kernel, p.maxPool, &perLayer)
          : h2oEviction(tr, p.heavy, p.recent, &perLayer);
  j["answer"] = answerJson(s, answerEvicted(s, ev, answer));
  j["answer"]["kept_per_layer_kv_head"] = perLayer;
}

}  // namespace

bool selectNeedsTrace(const SelectCall& call) {
  const SelectionMethod m = call.selection.method;
  return m != SelectionMethod::PromptDistill && !(m == SelectionMethod::GemFilter && !call.sweep);
}

nlohmann::json selectionDocument(Session& s, const Trace* tr, const SelectCall& call) {
  using M = SelectionMethod;
  if (call.answer < 0 || call.answer > kMaxAnswerTokens)
    throw std::invalid_argument("select: answer " + std::to_string(call.answer) +
                                " is out of range (0.." + std::to_string(kMaxAnswerTokens) + ")");
  if (selectNeedsTrace(call) && !tr)
    throw std::invalid_argument("select: this method reads a full trace of the prompt");
  const ModelSpec& spec = s.model().spec;
  const int T = static_cast<int>(s.promptIds().size());
  const SelectionRequest& req = call.selection;
  const SelectionOutcome out = runSelection(s, tr, req);
  const SelectionParams& p = out.params;
  nlohmann::json j;
  j["method"] = selectionMethodKey(p.method);
  j["params"] = p.record();
  std::vector<std::string> warnings;
  const auto warn = [&](const std::vector<std::string>& w) {
    warnings.insert(warnings.end(), w.begin(), w.end());
    j["warnings"] = warnings;
  };
  warn({});
  if (p.method != M::PromptDistill) {
    j["layer"] = p.layer;
    // SnapKV / H2O report their overlap with GemFilter at the same layer.
    if (p.method != M::GemFilter) warn(selectionWarnings(spec, M::GemFilter, p.layer, T));
  }
  warn(out.warnings);
  if (p.method == M::GemFilter && call.sweep) {
    const std::string wl = windowedLayersText(spec);
    if (!wl.empty() && T > spec.window)
      warn({"GemFilter sweep: at the sliding-window " + wl +
            " the last query cannot see keys older than the window; those keys are ranked by q.k "
            "products the model never computes there"});
  }
  j["k_used"] = p.method == M::PromptDistill ? p.stages.back().k : p.k;
  if (!out.reason.empty()) j["reason"] = out.reason;
  if (p.method == M::PromptDistill) {
    promptDistillJson(j, s, tr, out, call.answer);
  } else if (p.method == M::GemFilter) {
    j["kept"] = out.kept();
    j["scores"] = out.selection.scores;
    if (call.sweep) j["sweep_kept_per_layer"] = gemFilterLayerSweep(*tr, p.k, p.kernel);
    if (call.answer > 0) {
      // GemFilter's answer runs the kept tokens as a prompt of their own (re-indexed).
      warn(subsetWarnings(spec, out.kept(), false));
      j["answer"] = answerJson(s, answerReindexed(s, out.kept(), call.answer));
    }
  } else {
    evictionJson(j, s, *tr, out, req, call.answer);
  }
  return j;
}

}  // namespace ll::rt::ana
