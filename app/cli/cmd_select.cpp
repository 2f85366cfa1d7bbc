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
// sentence the GUI's Token selection panel shows (runtime/analysis/selection_reasons.h).
#include "cmd_analysis_common.h"
#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/selection_reasons.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/stats.h"
#include "runtime/analysis/token_selection.h"

namespace ll::cli {
namespace {

struct SelectOpts {
  ana::ModelPrompt mp;
  std::string method = "gemfilter", stages;
  int layer = -1, k = 1024, window = 32, kernel = 5, answer = 0, kvTrim = 0;
  bool maxPool = false, sweep = false;
};

nlohmann::json answerJson(const rt::Session& s, const rt::ana::Answers& a) {
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

int selectCommand(const SelectOpts& o) {
  auto s = ana::openSession(o.mp);
  const rt::ModelSpec& spec = s->model().spec;
  const int L = spec.nLayer, T = static_cast<int>(s->promptIds().size());
  nlohmann::json j;
  j["method"] = o.method;
  std::vector<std::string> warnings;
  const auto warn = [&](const std::vector<std::string>& w) {
    warnings.insert(warnings.end(), w.begin(), w.end());
    j["warnings"] = warnings;
  };
  warn({});
  using M = rt::ana::SelectionMethod;
  if (o.method == "promptdistill") {
    std::vector<rt::ana::DistillStage> st;
    if (!o.stages.empty()) {
      st = rt::ana::parseStages(o.stages);
    } else {
      if (o.layer < 0) throw std::invalid_argument("select: give --layer or --stages");
      st.push_back({o.layer, o.k});
    }
    for (const auto& x : st) warn(rt::ana::selectionWarnings(spec, M::PromptDistill, x.layer, T));
    auto r = rt::ana::promptDistill(*s, st, o.kernel);
    j["kept"] = r.keptPerStage.back();
    j["scores"] = r.scoresPerStage.back();
    j["kept_per_stage"] = r.keptPerStage;
    j["survivors_per_layer"] = r.survivorsPerLayer;
    j["kv_trim"] = o.kvTrim;
    // The kept set is the last stage's top k (plus the last token): that stage's k is the k used.
    const int k = st.back().k;
    addKeepReason(j, k, rt::ana::promptDistillKeepReason(st, r.keptPerStage, k));
    if (o.answer > 0) {
      std::vector<int> layers;
      for (const auto& x : st) layers.push_back(x.layer);
      j["answer"] =
          answerJson(*s, rt::ana::answerDistilled(*s, layers, r.keptPerStage, o.kvTrim, o.answer));
    }
    ana::printJson(j);
    return 0;
  }
  if (o.layer < 0 || o.layer >= L)
    throw std::invalid_argument("select: --layer must be in 0.." + std::to_string(L - 1));
  j["layer"] = o.layer;
  // GemFilter's answer runs the kept tokens as a prompt of their own (re-indexed).
  const auto gemAnswer = [&](const std::vector<int>& kept) {
    warn(rt::ana::subsetWarnings(spec, kept, false));
    j["answer"] = answerJson(*s, rt::ana::answerReindexed(*s, kept, o.answer));
  };
  // SnapKV / H2O report their overlap with GemFilter at the same layer.
  warn(rt::ana::selectionWarnings(spec, M::GemFilter, o.layer, T));
  if (o.method == "snapkv")
    warn(rt::ana::selectionWarnings(spec, M::SnapKv, o.layer, T, std::max(1, o.window)));
  if (o.method == "gemfilter" && o.sweep) {
    const std::string wl = rt::ana::windowedLayersText(spec);
    if (!wl.empty() && T > spec.window)
      warn({"GemFilter sweep: at the sliding-window " + wl +
            " the last query cannot see keys older than the window; those keys are ranked by q.k "
            "products the model never computes there"});
  }
  if (o.method == "gemfilter" && !o.sweep) {
    // Early exit: the selection needs layers 0..r only.
    auto r = rt::ana::gemFilterSelect(*s, o.layer, o.k, o.kernel);
    j["kept"] = r.kept;
    j["scores"] = r.scores;
    addKeepReason(j, o.k, {});  // GemFilter keeps its top k: no reason
    if (o.answer > 0) gemAnswer(r.kept);
    ana::printJson(j);
    return 0;
  }
  auto tr = s->run();
  // GemFilter reads the last query row, SnapKV its window; other methods every row.
  const int firstRow = o.method == "gemfilter" ? tr->nTokens - 1
                       : o.method == "snapkv" || o.method == "h2o"
                           ? tr->nTokens - std::max(1, o.window)
                           : 0;
  const auto qk = rt::ana::qkView(*tr, o.layer, firstRow);
  if (o.method == "gemfilter") {
    auto r = rt::ana::gemFilter(qk, o.k, o.kernel);
    j["kept"] = r.kept;
    j["scores"] = r.scores;
    addKeepReason(j, o.k, {});
    if (o.sweep) j["sweep_kept_per_layer"] = rt::ana::gemFilterLayerSweep(*tr, o.k, o.kernel);
    if (o.answer > 0) gemAnswer(r.kept);
  } else if (o.method == "snapkv" || o.method == "h2o") {
    const int heavy = std::max(0, o.k - o.window);
    rt::ana::Selection r =
        o.method == "snapkv"
            ? rt::ana::snapKv(rt::ana::attnRows(*tr, o.layer, firstRow), tr->nTokens, tr->nHead,
                              o.k, o.window, o.kernel, o.maxPool)
            : rt::ana::h2o(tr->layers[o.layer].colSum, tr->nTokens, tr->nHead, heavy, o.window);
    // SnapKV's capacity is k; H2O's heavy + recent is k.
    addKeepReason(j, o.k,
                  o.method == "snapkv"
                      ? rt::ana::snapKvKeepReason(r, o.k, tr->nTokens, o.k, o.window)
                      : rt::ana::h2oKeepReason(r, o.k, tr->nTokens, heavy, o.window));
    j["kept_per_head"] = r.keptPerHead;
    j["scores_per_head"] = r.scoresPerHead;
    auto gem = rt::ana::gemFilter(qk, o.k, o.kernel);
    std::vector<double> jac;
    for (const auto& h : r.keptPerHead) jac.push_back(rt::ana::jaccard(h, gem.kept));
    j["jaccard_with_gemfilter"] = jac;
    if (o.answer > 0) {
      // Eviction in every layer, per kv head (selection_runs.h: GQA sums a group's heads; H2O is
      // a static eviction after prefill).
      std::vector<std::vector<std::vector<int>>> perLayer;
      const rt::HeadEviction ev =
          o.method == "snapkv"
              ? rt::ana::snapKvEviction(*tr, o.k, o.window, o.kernel, o.maxPool, &perLayer)
              : rt::ana::h2oEviction(*tr, std::max(0, o.k - o.window), o.window, &perLayer);
      j["answer"] = answerJson(*s, rt::ana::answerEvicted(*s, ev, o.answer));
      j["answer"]["kept_per_layer_kv_head"] = perLayer;
    }
  } else {
    throw std::invalid_argument("select: unknown method '" + o.method +
                                "' (gemfilter, snapkv, h2o, promptdistill)");
  }
  ana::printJson(j);
  return 0;
}

RegisterCommand reg{
    {"select", "token selection: gemfilter, snapkv, h2o, promptdistill (JSON)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<SelectOpts>();
       ana::addModelPrompt(sub, o->mp);
       sub.add_option("--method", o->method, "gemfilter, snapkv, h2o or promptdistill");
       sub.add_option("--layer", o->layer, "selection layer");
       sub.add_option("--k", o->k, "tokens kept (SnapKV: capacity C; H2O: heavy + recent)");
       sub.add_option("--window", o->window, "SnapKV observation window / H2O recent tokens");
       sub.add_option("--kernel", o->kernel, "pooling kernel (1 = none)");
       sub.add_flag("--max-pool", o->maxPool, "SnapKV: max pooling instead of average");
       sub.add_flag("--sweep", o->sweep, "GemFilter: the kept set at every layer too");
       sub.add_option("--stages", o->stages, "PromptDistill stages L1:K1,L2:K2");
       sub.add_option("--kv-trim", o->kvTrim,
                      "PromptDistill: stages whose dropped tokens also leave the earlier layers' "
                      "KV cache for generated tokens (0 none, -1 all, n the first n)");
       sub.add_option("--answer", o->answer,
                      "greedy tokens from the kept tokens and the full prompt (snapkv/h2o: "
                      "per-head eviction in every layer after prefill; H2O's eviction is static, "
                      "without decode-time score accumulation)");
       return [o] { return selectCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
