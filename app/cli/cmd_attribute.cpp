// `layerlens-cli attribute`: direct logit attribution (ALGORITHMS.md §13) of the logit of --target
// (minus --other) at --position (default: the last) into the embedding, per-layer attention and
// MLP terms, per-head terms and the constant terms; writes the JSON of attributionJson to --out.
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/attribution.h"

namespace ll::cli {
namespace {

struct AttributeOpts {
  ana::ModelPrompt mp;
  std::string out;
  int target = -1, other = -1, position = -1;
  fig::FigureOut figure;
};

int attributeCommand(const AttributeOpts& o) {
  fig::checkFigureOut(o.figure);
  auto s = ana::openSession(o.mp);  // --ids are used as given (no BOS)
  const int T = static_cast<int>(s->promptIds().size());
  if (T == 0) throw std::invalid_argument("the prompt has no tokens");
  if (o.position < -1 || o.position >= T)
    throw std::invalid_argument("--position " + std::to_string(o.position) +
                                " is out of range (0.." + std::to_string(T - 1) + ")");
  auto tr = s->run();
  const auto a = rt::ana::directLogitAttribution(s->engine(), *tr, {o.target, o.other, o.position});
  std::ofstream f(o.out, std::ios::binary);
  if (!f) throw std::runtime_error("cannot write " + o.out);
  f << rt::ana::attributionJson(a) << "\n";
  if (!f.flush()) throw std::runtime_error("cannot write " + o.out);
  fig::FigureInput in = fig::figureInput(*s, o.mp.model, o.mp.text, o.mp.ids);
  in.target = a.target;
  in.other = a.other;
  fig::writeFigure(o.figure, in, &a);
  return 0;
}

RegisterCommand reg{
    {"attribute", "direct logit attribution per layer and head (JSON to --out)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<AttributeOpts>();
       ana::addModelPrompt(sub, o->mp);
       sub.add_option("--target", o->target, "token id whose logit is attributed")->required();
       sub.add_option("--other", o->other, "token id subtracted: logit(target) - logit(other)");
       sub.add_option("--position", o->position, "sequence index (default: the last)");
       sub.add_option("--out", o->out, "JSON file to write")->required();
       fig::addFigureOption(sub, o->figure, "--figure", "the layer x head terms");
       return [o] { return attributeCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
