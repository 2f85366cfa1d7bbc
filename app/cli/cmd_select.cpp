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
#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "runtime/analysis/selection_document.h"
#include "selection_options.h"

namespace ll::cli {
namespace {

namespace sa = rt::ana;

struct SelectOpts {
  ana::ModelPrompt mp;
  ServerTarget target;
  sa::SelectCall call;
  std::function<void()> finish;  // reads --method (selection_options.h)
};

// The document is rt::ana::selectionDocument's, built here or on the server (analysis_call.h).
// The k the method ran with is "k_used"; when it keeps more, "reason" says why and is repeated as
// a note on stderr (stdout stays one JSON document).
int selectCommand(const SelectOpts& o) {
  const std::string doc = ana::runAnalysisHereOrThere(o.mp, o.target, o.call);
  const auto j = nlohmann::json::parse(doc);
  if (j.contains("reason"))
    std::fprintf(stderr, "note: %s\n", j["reason"].get<std::string>().c_str());
  std::printf("%s\n", doc.c_str());
  return 0;
}

RegisterCommand reg{
    {"select", "token selection: gemfilter, snapkv, h2o, promptdistill (JSON)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<SelectOpts>();
       ana::addModelPrompt(sub, o->mp);
       addServerOptions(sub, o->target);
       o->finish = addSelectionOptions(sub, o->call.selection);
       sub.add_flag("--sweep", o->call.sweep, "GemFilter: the kept set at every layer too");
       sub.add_option("--answer", o->call.answer,
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
