// `layerlens-cli attribute`: direct logit attribution (ALGORITHMS.md §13) of the logit of --target
// (minus --other) at --position (default: the last) into the embedding, per-layer attention and
// MLP terms, per-head terms and the constant terms; writes the JSON of attributionJson to --out.
#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/attribution.h"

namespace ll::cli {
namespace {

struct AttributeOpts {
  ana::ModelPrompt mp;
  ServerTarget server;
  std::string out;
  int target = -1, other = -1, position = -1;
  fig::FigureOut figure;
};

int attributeCommand(const AttributeOpts& o) {
  ana::refuseFigureRemote(o.server, o.figure.path);
  fig::checkFigureOut(o.figure);
  // --ids are used as given (no BOS); the position is checked against the prompt where it runs.
  const rt::ana::AttributionRequest rq{o.target, o.other, o.position};
  ana::writeTextOut(o.out, [&] {
    return ana::runAnalysisHereOrThere(
        o.mp, o.server, rq, [&](const rt::Session& s, const rt::ana::AnalysisOutput& out) {
          const auto& a = std::get<rt::ana::Attribution>(out.result);
          fig::FigureInput in = fig::figureInput(s, o.mp.model, o.mp.text, o.mp.ids);
          in.target = a.target;
          in.other = a.other;
          fig::writeFigure(o.figure, in, &a);
        });
  });
  return 0;
}

RegisterCommand reg{
    {"attribute", "direct logit attribution per layer and head (JSON to --out)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<AttributeOpts>();
       ana::addModelPrompt(sub, o->mp);
       addServerOptions(sub, o->server);
       sub.add_option("--target", o->target, "token id whose logit is attributed")->required();
       sub.add_option("--other", o->other, "token id subtracted: logit(target) - logit(other)");
       sub.add_option("--position", o->position, "sequence index (default: the last)");
       sub.add_option("--out", o->out, "JSON file to write")->required();
       fig::addFigureOption(sub, o->figure, "--figure", "the layer x head terms");
       return [o] { return attributeCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
