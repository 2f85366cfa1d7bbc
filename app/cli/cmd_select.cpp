// `layerlens-cli select`: token selection (ALGORITHMS.md §2-5) at one layer. Prints JSON
// {"kept": [...], "scores": [...]} (GemFilter, PromptDistill) or {"kept_per_head": [[...], ...],
// "scores_per_head": ...} (SnapKV, H2O); --answer N adds the greedy continuation of the kept tokens
// beside the full prompt's (GemFilter: kept tokens re-indexed; PromptDistill: original positions,
// each stage's dropped tokens invisible after its layer; SnapKV / H2O: full prefill, then every
// layer's kv heads evict per head - H2O statically after prefill; see
// runtime/analysis/selection_runs.h). "warnings" lists where the method is limited by the model
// (runtime/analysis/method_limits.h): selecting at a sliding-window layer, or GemFilter's
// compressed prompt on a model with sliding-window layers. "k_used" is the k the method ran with;
// "reason" (also printed to stderr) says why SnapKV / H2O / PromptDistill keep more than k, the
// sentence the GUI's Token selection panel shows (runtime/analysis/selection_reasons.h). The
// options, their defaults and the run are rt::ana::SelectionRequest's (selection_request.h), as in
// the GUI and figures; "params" lists the values the method ran with.
#include "cmd_analysis_common.h"
#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/selection_request.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/stats.h"
#include "runtime/analysis/token_selection.h"
#include "selection_options.h"

namespace ll::cli {
namespace {

namespace sa = rt::ana;

struct SelectOpts {
  ana::ModelPrompt mp;
  sa::SelectionRequest req;
  std::function<void()> finish;  // reads --method (selection_options.h)
  int answer = 0;
  bool sweep = false;
};

nlohmann::json answerJson(const rt::Session& s, const sa::Answers& a) {
  return {{"full", {{"ids", a.full}, {"text", ana::textOf(s, a.full)}}},
          {"kept", {{"ids", a.compressed}, {"text", ana::textOf(s, a.compressed)}}}};
}

// The k the method ran with and, when it keeps more, why: in the JSON and as a note on stderr
// (stdout stays one JSON document).
void addKeepReason(nlohmann::json& j, int k, const std::string& reason) {
  j["k_used"] = k;
  if (reason.empty()) return;
  j["reason"] = reason;
  std::fprintf(stderr, "note: %s\n", reason.c_str());
}

void promptDistillJson(nlohmann::json& j, rt::Session& s, const sa::SelectionOutcome& o,
                       int answer) {
  const sa::SelectionParams& p = o.params;
  j["kept"] = o.kept();
  j["scores"] = o.selection.scores;
  j["kept_per_stage"] = o.distill.keptPerStage;
  j["survivors_per_layer"] = o.distill.survivorsPerLayer;
  j["kv_trim"] = p.kvTrim;
  if (answer > 0) {
    std::vector<int> layers;
    for (const auto& x : p.stages) layers.push_back(x.layer);
    j["answer"] =
        answerJson(s, sa::answerDistilled(s, layers, o.distill.keptPerStage, p.kvTrim, answer));
  }
}

// SnapKV / H2O: per-head sets, their overlap with GemFilter at the same layer and, with --answer,
// the eviction in every layer, per kv head (selection_runs.h: GQA sums a group's heads; H2O is a
// static eviction after prefill).
void evictionJson(nlohmann::json& j, rt::Session& s, const rt::Trace& tr,
                  const sa::SelectionOutcome& o, const sa::SelectionRequest& req, int answer) {
  const sa::SelectionParams& p = o.params;
  j["kept_per_head"] = o.selection.keptPerHead;
  j["scores_per_head"] = o.selection.scoresPerHead;
  sa::SelectionRequest gemReq = req;
  gemReq.method = sa::SelectionMethod::GemFilter;
  const auto gem = sa::runSelection(s, &tr, gemReq);
  std::vector<double> jac;
  for (const auto& h : o.selection.keptPerHead) jac.push_back(sa::jaccard(h, gem.kept()));
  j["jaccard_with_gemfilter"] = jac;
  if (answer <= 0) return;
  std::vector<std::vector<std::vector<int>>> perLayer;
  const rt::HeadEviction ev =
      p.method == sa::SelectionMethod::SnapKv
          ? sa::snapKvEviction(tr, p.capacity, p.window, p.kernel, p.maxPool, &perLayer)
          : sa::h2oEviction(tr, p.heavy, p.recent, &perLayer);
  j["answer"] = answerJson(s, sa::answerEvicted(s, ev, answer));
  j["answer"]["kept_per_layer_kv_head"] = perLayer;
}

int selectCommand(const SelectOpts& o) {
  auto s = ana::openSession(o.mp);
  const rt::ModelSpec& spec = s->model().spec;
  const int T = static_cast<int>(s->promptIds().size());
  const sa::SelectionRequest& req = o.req;
  using M = sa::SelectionMethod;
  // GemFilter without --sweep stops after its layer (no trace); the others read a full run.
  std::shared_ptr<const rt::Trace> tr;
  if (req.method != M::PromptDistill && !(req.method == M::GemFilter && !o.sweep)) tr = s->run();
  const sa::SelectionOutcome out = sa::runSelection(*s, tr.get(), req);
  const sa::SelectionParams& p = out.params;
  nlohmann::json j;
  j["method"] = sa::selectionMethodKey(p.method);
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
    if (p.method != M::GemFilter) warn(sa::selectionWarnings(spec, M::GemFilter, p.layer, T));
  }
  warn(out.warnings);
  if (p.method == M::GemFilter && o.sweep) {
    const std::string wl = sa::windowedLayersText(spec);
    if (!wl.empty() && T > spec.window)
      warn({"GemFilter sweep: at the sliding-window " + wl +
            " the last query cannot see keys older than the window; those keys are ranked by q.k "
            "products the model never computes there"});
  }
  addKeepReason(j, p.method == M::PromptDistill ? p.stages.back().k : p.k, out.reason);
  if (p.method == M::PromptDistill) {
    promptDistillJson(j, *s, out, o.answer);
  } else if (p.method == M::GemFilter) {
    j["kept"] = out.kept();
    j["scores"] = out.selection.scores;
    if (o.sweep) j["sweep_kept_per_layer"] = sa::gemFilterLayerSweep(*tr, p.k, p.kernel);
    if (o.answer > 0) {
      // GemFilter's answer runs the kept tokens as a prompt of their own (re-indexed).
      warn(sa::subsetWarnings(spec, out.kept(), false));
      j["answer"] = answerJson(*s, sa::answerReindexed(*s, out.kept(), o.answer));
    }
  } else {
    evictionJson(j, *s, *tr, out, req, o.answer);
  }
  ana::printJson(j);
  return 0;
}

RegisterCommand reg{
    {"select", "token selection: gemfilter, snapkv, h2o, promptdistill (JSON)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<SelectOpts>();
       ana::addModelPrompt(sub, o->mp);
       o->finish = addSelectionOptions(sub, o->req);
       sub.add_flag("--sweep", o->sweep, "GemFilter: the kept set at every layer too");
       sub.add_option("--answer", o->answer,
                      "greedy tokens from the kept tokens and the full prompt (snapkv/h2o: "
                      "per-head eviction in every layer after prefill; H2O's eviction is static, "
                      "without decode-time score accumulation)");
       return [o] {
         o->finish();
         return selectCommand(*o);
       };
     }}};

}  // namespace
}  // namespace ll::cli
