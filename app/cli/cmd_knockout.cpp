// `layerlens-cli knockout`: attention knockout (ALGORITHMS.md §10). Queries in --from may not
// attend keys in --to (spans like "last", "all-but-last", "0,3-7", "-1") in the window of --window
// layers centred on --layer; prints JSON with the relative change 100 (p_new - p_base) / p_base
// of the first answer token (the unablated argmax unless --answer ID); "warnings" counts the edges
// a sliding window hides already. --sweep adds the same knockout in the window centred on each
// layer in turn (rt::ana::knockoutReadout: window, sweep, sweep_p_new, sweep_layers), as the GUI's
// Knockout effect panel draws it. With --server it runs there (the named analysis "knockout").
#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/knockout.h"

namespace ll::cli {
namespace {

struct KnockOpts {
  ana::ModelPrompt mp;
  ServerTarget server;
  std::string from = "last", to = "all-but-last";
  int layer = -1, window = rt::ana::KnockoutReadoutRequest{}.window, answer = -1;
  bool sweep = false;
  fig::FigureOut figure;
};

int knockoutCommand(const KnockOpts& o) {
  ana::refuseFigureRemote(o.server, o.figure.path);
  fig::checkFigureOut(o.figure);
  rt::ana::KnockoutCall call;
  call.from = o.from;
  call.to = o.to;
  call.layer = o.layer;
  call.window = o.window;
  call.answer = o.answer;
  call.sweep = o.sweep;
  auto s = ana::openPrompted(o.mp, o.server);
  const rt::ana::AnalysisOutput out = s->analyze(call);
  if (const rt::Session* ls = s->local()) {
    const auto& rr = std::get<rt::ana::KnockoutReadout>(out.result);
    const int T = static_cast<int>(ls->promptIds().size());
    fig::FigureInput in = fig::figureInput(*ls, o.mp.model, o.mp.text, o.mp.ids);
    in.interventions.knockout =
        rt::Knockout{rt::ana::parseSpan(o.from, T), rt::ana::parseSpan(o.to, T),
                     rr.effect.layerBegin, rr.effect.layerEnd};
    fig::writeFigure(o.figure, in, &rr);
  }
  std::printf("%s\n", out.document.c_str());
  return 0;
}

RegisterCommand reg{{"knockout", "attention knockout between token groups (JSON relative change)",
                     [](CLI::App& sub) -> std::function<int()> {
                       auto o = std::make_shared<KnockOpts>();
                       ana::addModelPrompt(sub, o->mp);
                       addServerOptions(sub, o->server);
                       sub.add_option("--from", o->from, "query tokens (span)");
                       sub.add_option("--to", o->to, "key tokens they may not attend (span)");
                       sub.add_option("--layer", o->layer, "centre layer (default n_layer / 2)");
                       sub.add_option("--window", o->window, "layers in the window");
                       sub.add_option("--answer", o->answer, "answer token id");
                       sub.add_flag("--sweep", o->sweep,
                                    "also the same knockout in the window centred on each layer "
                                    "(one pass per layer)");
                       fig::addFigureOption(sub, o->figure, "--figure",
                                            "the relative change (per layer with --sweep)");
                       return [o] { return knockoutCommand(*o); };
                     }}};

}  // namespace
}  // namespace ll::cli
