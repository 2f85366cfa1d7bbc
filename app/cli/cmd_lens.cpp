// `layerlens-cli lens`: logit lens (ALGORITHMS.md §6) over every layer and token, with or without
// the final norm; --dump writes lens-entropy.npy f32 [L+1, T] (row 0: token embeddings, row l+1:
// residual after layer l), lens-top1.npy i32 [L+1, T], lens-mid-entropy.npy f32 [L, T] (after
// attention), with --token ID lens-rank.npy i32 [L+1, T] (0 = top). Prints early-exit layers,
// output entropy and fork tokens as JSON.
#include <filesystem>

#include "cmd_analysis_common.h"
#include "runtime/analysis/lens.h"
#include "runtime/api/npy_io.h"

namespace ll::cli {
namespace {

struct LensOpts {
  ana::ModelPrompt mp;
  std::string dump;
  bool noFinalNorm = false;
  int token = -1, topK = 5, forks = 5;
  ServerTarget target;
};

int lensCommand(const LensOpts& o) {
  auto s = ana::openPrompted(o.mp, o.target);
  auto tr = s->run({}, remote::kPartLogits);
  rt::ana::LensOptions lo;
  lo.finalNorm = !o.noFinalNorm;
  lo.target = o.token;
  lo.topK = o.topK;
  auto r = s->lens(*tr, lo);
  const int T = tr->nTokens, R = r.nRows;
  nlohmann::json j;
  j["n_tokens"] = T;
  j["n_layer"] = r.nLayer;
  j["final_norm"] = lo.finalNorm;
  j["early_exit_row"] = r.earlyExit;
  j["final_top1"] = r.finalTop1;
  auto oe = rt::ana::outputEntropy(*tr);
  j["output_entropy"] = oe.entropy;
  j["output_entropy_normalized"] = oe.normalized;
  nlohmann::json forks = nlohmann::json::array();
  for (const auto& f : rt::ana::forkTokens(*tr, o.forks)) {
    nlohmann::json alt = nlohmann::json::array();
    for (size_t i = 0; i < f.topIds.size(); ++i)
      alt.push_back({{"id", f.topIds[i]}, {"piece", s->piece(f.topIds[i])}, {"p", f.topProbs[i]}});
    forks.push_back({{"index", f.index}, {"entropy", f.entropy}, {"top", alt}});
  }
  j["forks"] = forks;
  if (!o.dump.empty()) {
    std::filesystem::path dir(o.dump);
    std::filesystem::create_directories(dir);
    rt::writeNpy(dir / "lens-entropy.npy", r.entropy.data(), {R, T});
    rt::writeNpy(dir / "lens-top1.npy", r.top1.data(), {R, T});
    rt::writeNpy(dir / "lens-mid-entropy.npy", r.midEntropy.data(), {r.nLayer, T});
    if (o.token >= 0) rt::writeNpy(dir / "lens-rank.npy", r.rank.data(), {R, T});
    j["dump"] = dir.string();
  }
  ana::printJson(j);
  return 0;
}

RegisterCommand reg{{"lens", "logit lens per layer and token (entropy, top-1, rank); --dump DIR",
                     [](CLI::App& sub) -> std::function<int()> {
                       auto o = std::make_shared<LensOpts>();
                       ana::addModelPrompt(sub, o->mp);
                       sub.add_option("--dump", o->dump, "folder for lens-*.npy");
                       sub.add_flag("--no-final-norm", o->noFinalNorm,
                                    "skip the final norm (BuPO variant)");
                       sub.add_option("--token", o->token, "token id whose rank is reported");
                       sub.add_option("--topk", o->topK, "top-k per layer and token");
                       sub.add_option("--forks", o->forks, "fork tokens to list");
                       addServerOptions(sub, o->target);
                       return [o] { return lensCommand(*o); };
                     }}};

}  // namespace
}  // namespace ll::cli
