// `layerlens-cli attention`: attention statistics (ALGORITHMS.md §1) and depth usage (§11) for a
// prompt: mean entropy per layer and head (raw and normalised by log(i+1)), one query row per
// layer (mean over heads), the relative contribution and "active" flags per layer. With
// --induction N the prompt is replaced by [BOS, x, x] with x of N random ids and the induction
// score per layer and head is printed, with "warnings" naming the sliding-window layers that cannot
// see the stripe. Prints JSON.
#include "cmd_analysis_common.h"
#include "runtime/analysis/attention_stats.h"
#include "runtime/analysis/depth_usage.h"
#include "runtime/analysis/method_limits.h"

namespace ll::cli {
namespace {

struct AttnOpts {
  ana::ModelPrompt mp;
  int induction = 0, query = -1;
  uint64_t seed = 0;
  float alpha = 0.8f;
  ServerTarget target;
};

std::vector<std::vector<float>> rowsOf(const std::vector<float>& v, int n) {
  std::vector<std::vector<float>> out;
  for (size_t i = 0; i + n <= v.size(); i += n) out.emplace_back(v.begin() + i, v.begin() + i + n);
  return out;
}

int attentionCommand(const AttnOpts& o) {
  auto s = ana::openPrompted(o.mp, o.target, o.induction > 0);
  nlohmann::json j;
  if (o.induction > 0) {
    const int32_t bos = s->hasTokenizer() ? s->bos() : 1;
    const int nVocab = s->spec().nVocab;
    const int32_t lo = std::min<int32_t>(3, nVocab - 1);
    s->setPromptIds(rt::ana::inductionPrompt(bos, o.induction, lo, nVocab, o.seed));
  }
  // What the statistics below read: entropy, the maps' Q/K, the residuals for depth usage.
  using namespace remote;
  auto tr = s->run({}, kPartEmbd | kPartResid | kPartQK | kPartAttnStats);
  const int H = tr->nHead, T = tr->nTokens;
  j["n_tokens"] = T;
  if (o.induction > 0) {
    j["induction_n"] = o.induction;
    j["induction_score"] = rowsOf(rt::ana::inductionScores(*tr, o.induction), H);
    j["warnings"] = rt::ana::inductionWarnings(s->spec(), o.induction);
  }
  j["mean_entropy"] = rowsOf(rt::ana::meanHeadEntropy(*tr, false), H);
  j["mean_entropy_normalized"] = rowsOf(rt::ana::meanHeadEntropy(*tr, true), H);
  const int q = o.query >= 0 ? o.query : T - 1;
  std::vector<std::vector<float>> rows;
  for (int l = 0; l < tr->nLayer; ++l)
    rows.push_back(rt::ana::queryRow(rt::ana::attnRows(*tr, l, q), T, H, q, -1));
  j["query"] = q;
  j["query_row_mean_over_heads"] = rows;
  auto u = rt::ana::depthUsage(*tr, o.alpha);
  j["depth_relative_contribution"] = rowsOf(u.relative, T);
  std::vector<int> active(u.active.begin(), u.active.end());
  std::vector<std::vector<int>> act;
  for (int l = 0; l < u.nLayer; ++l)
    act.emplace_back(active.begin() + size_t(l) * T, active.begin() + size_t(l + 1) * T);
  j["depth_active"] = act;
  ana::printJson(j);
  return 0;
}

RegisterCommand reg{{"attention",
                     "attention entropy, induction score, query row, depth usage (JSON)",
                     [](CLI::App& sub) -> std::function<int()> {
                       auto o = std::make_shared<AttnOpts>();
                       ana::addModelPrompt(sub, o->mp);
                       sub.add_option("--induction", o->induction,
                                      "use [BOS, x, x] with |x| = N and print induction scores");
                       sub.add_option("--seed", o->seed, "seed of the random x");
                       sub.add_option("--query", o->query, "query row (default: last token)");
                       sub.add_option("--alpha", o->alpha, "depth usage threshold factor");
                       addServerOptions(sub, o->target);
                       return [o] { return attentionCommand(*o); };
                     }}};

}  // namespace
}  // namespace ll::cli
