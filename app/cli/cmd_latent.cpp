// `layerlens-cli latent`: the latent-language plot (ALGORITHMS.md §16). Writes JSON
// {"layers": L, "a": [L + 1], "b": [L + 1], "tokens_a", "tokens_b", "position"}: the lens
// probability mass on each word per row (row 0 = embeddings, l + 1 = after layer l).
#include <filesystem>
#include <fstream>

#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/latent_language.h"

namespace ll::cli {
namespace {

struct LatentOpts {
  ana::ModelPrompt mp;
  ServerTarget server;
  std::string out;
  rt::ana::LatentLanguageRequest rq;
  fig::FigureOut figure;
};

int latentCommand(const LatentOpts& o) {
  // Checked before the model loads, so a typo costs no run.
  if (o.rq.wordA.empty() || o.rq.wordB.empty())
    throw std::invalid_argument("--word-a and --word-b must not be empty");
  ana::refuseFigureRemote(o.server, o.figure.path);
  fig::checkFigureOut(o.figure);
  ana::writeTextOut(o.out, [&] {
    return ana::runAnalysisHereOrThere(
        o.mp, o.server, o.rq, [&](const rt::Session& s, const rt::ana::AnalysisOutput& out) {
          fig::FigureInput in = fig::figureInput(s, o.mp.model, o.mp.text, o.mp.ids);
          in.wordA = o.rq.wordA;
          in.wordB = o.rq.wordB;
          fig::writeFigure(o.figure, in, &std::get<rt::ana::LatentLanguageResult>(out.result));
        });
  });
  return 0;
}

RegisterCommand reg{
    {"latent",
     "latent-language plot: lens probability of two words per layer at one position (JSON --out; "
     "a and b hold layers + 1 rows, row 0 the embeddings)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<LatentOpts>();
       ana::addModelPrompt(sub, o->mp);
       addServerOptions(sub, o->server);
       sub.add_option("--word-a", o->rq.wordA, rt::ana::LatentLanguageRequest::kHelpWords)
           ->required();
       sub.add_option("--word-b", o->rq.wordB, "The second answer word (see --word-a).")
           ->required();
       sub.add_option("--position", o->rq.position, rt::ana::LatentLanguageRequest::kHelpPosition);
       sub.add_option("--out", o->out, "JSON file to write")->required();
       fig::addFigureOption(sub, o->figure, "--figure", "both words' mass per layer");
       return [o] { return latentCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
