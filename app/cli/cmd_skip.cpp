// `layerlens-cli skip`: layer skipping (ALGORITHMS.md §15). Skips each layer (or its attention or
// MLP update) in turn and writes JSON with kl, kl_mean, top1_changed and rel_update per layer (and
// cos_update, active, top1_skip), the same document the GUI's "Layer skip" data export writes.
#include <filesystem>
#include <fstream>

#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/layer_skip.h"

namespace ll::cli {
namespace {

struct SkipOpts {
  ana::ModelPrompt mp;
  ServerTarget server;
  std::string out, sublayer = "layer";
  int position = rt::ana::LayerSkipRequest{}.position;
  fig::FigureOut figure;
};

int skipCommand(const SkipOpts& o) {
  rt::ana::LayerSkipRequest rq;
  rq.position = o.position;
  rq.part = rt::ana::parseSkipPart(o.sublayer);
  ana::refuseFigureRemote(o.server, o.figure.path);
  fig::checkFigureOut(o.figure);
  ana::writeTextOut(o.out, [&] {
    return ana::runAnalysisHereOrThere(
        o.mp, o.server, rq, [&](const rt::Session& s, const rt::ana::AnalysisOutput& out) {
          fig::writeFigure(o.figure, fig::figureInput(s, o.mp.model, o.mp.text, o.mp.ids),
                           &std::get<rt::ana::LayerSkipResult>(out.result));
        });
  });
  return 0;
}

RegisterCommand reg{
    {"skip", "skip each layer in turn: KL(p || p_skip) per layer and update sizes (JSON --out)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<SkipOpts>();
       ana::addModelPrompt(sub, o->mp);
       addServerOptions(sub, o->server);
       sub.add_option("--position", o->position, rt::ana::kSkipPositionHelp);
       sub.add_option("--sublayer", o->sublayer, rt::ana::kSkipPartHelp)
           ->check(CLI::IsMember({"layer", "attn", "mlp"}));
       sub.add_option("--out", o->out, "JSON file to write")->required();
       fig::addFigureOption(sub, o->figure, "--figure", "KL per skipped layer");
       return [o] { return skipCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
