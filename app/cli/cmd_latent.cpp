// `layerlens-cli latent`: the latent-language plot (ALGORITHMS.md §16). Writes JSON
// {"layers": L, "a": [L + 1], "b": [L + 1], "tokens_a", "tokens_b", "position"}: the lens
// probability mass on each word per row (row 0 = embeddings, l + 1 = after layer l).
#include <filesystem>
#include <fstream>

#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/latent_language.h"

namespace ll::cli {
namespace {

struct LatentOpts {
  ana::ModelPrompt mp;
  std::string out;
  rt::ana::LatentLanguageRequest rq;
  fig::FigureOut figure;
};

int latentCommand(const LatentOpts& o) {
  // Checked before the model loads, so a typo costs no run.
  if (o.rq.wordA.empty() || o.rq.wordB.empty())
    throw std::invalid_argument("--word-a and --word-b must not be empty");
  fig::checkFigureOut(o.figure);
  auto s = ana::openSession(o.mp);
  if (!s->model().tokenizer) throw std::runtime_error("the model has no tokenizer");
  auto tr = s->run();
  const auto r = rt::ana::latentLanguage(s->engine(), *tr, *s->model().tokenizer, o.rq);
  ana::writeJsonOut(o.out, [&] {
    fig::FigureInput in = fig::figureInput(*s, o.mp.model, o.mp.text, o.mp.ids);
    in.wordA = o.rq.wordA;
    in.wordB = o.rq.wordB;
    fig::writeFigure(o.figure, in, &r);
    return rt::ana::latentLanguageJson(r);
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
