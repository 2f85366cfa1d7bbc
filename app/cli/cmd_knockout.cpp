// `layerlens-cli knockout`: attention knockout (ALGORITHMS.md §10). Queries in --from may not
// attend keys in --to (spans like "last", "all-but-last", "0,3-7", "-1") in the window of --window
// layers centred on --layer; prints JSON with the relative change 100 (p_new - p_base) / p_base
// of the first answer token (the unablated argmax unless --answer ID); "warnings" counts the edges
// a sliding window hides already. --sweep adds the same knockout in the window centred on each
// layer in turn (rt::ana::knockoutReadout: window, sweep, sweep_p_new, sweep_layers), as the GUI's
// Knockout effect panel draws it.
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/method_limits.h"

namespace ll::cli {
namespace {

struct KnockOpts {
  ana::ModelPrompt mp;
  std::string from = "last", to = "all-but-last";
  int layer = -1, window = rt::ana::KnockoutReadoutRequest{}.window, answer = -1;
  bool sweep = false;
  fig::FigureOut figure;
};

int knockoutCommand(const KnockOpts& o) {
  fig::checkFigureOut(o.figure);
  auto s = ana::openSession(o.mp);
  const int T = static_cast<int>(s->promptIds().size()), L = s->model().spec.nLayer;
  const int layer = o.layer >= 0 ? o.layer : L / 2;
  auto from = rt::ana::parseSpan(o.from, T), to = rt::ana::parseSpan(o.to, T);
  auto r = rt::ana::attentionKnockout(*s, from, to, layer, o.window, o.answer);
  nlohmann::json j;
  j["from"] = from;
  j["to"] = to;
  j["layers"] = {r.layerBegin, r.layerEnd};
  j["answer"] = {{"id", r.answer}, {"piece", ana::pieceOf(*s, r.answer)}};
  j["p_base"] = r.pBase;
  j["p_new"] = r.pNew;
  j["relative_change_percent"] = r.relativeChange;
  j["warnings"] = rt::ana::knockoutWarnings(s->model().spec, from, to, r.layerBegin, r.layerEnd);
  // The readout the GUI's Knockout effect panel draws: the effect, and the sweep when asked.
  rt::ana::KnockoutReadout rr;
  rr.effect = r;
  rr.window = o.window;
  if (o.sweep) {
    rt::ana::KnockoutReadoutRequest rq;
    rq.window = o.window;
    rq.sweep = true;
    rq.answer = r.answer;
    rr = rt::ana::knockoutReadout(*s, s->promptIds(), {},
                                  rt::Knockout{from, to, r.layerBegin, r.layerEnd}, rq);
    const nlohmann::json sj = rt::ana::knockoutReadoutJson(rr);
    for (const char* key : {"window", "sweep", "sweep_p_new", "sweep_layers"}) j[key] = sj[key];
  }
  fig::FigureInput in = fig::figureInput(*s, o.mp.model, o.mp.text, o.mp.ids);
  in.interventions.knockout = rt::Knockout{from, to, r.layerBegin, r.layerEnd};
  fig::writeFigure(o.figure, in, &rr);
  ana::printJson(j);
  return 0;
}

RegisterCommand reg{{"knockout", "attention knockout between token groups (JSON relative change)",
                     [](CLI::App& sub) -> std::function<int()> {
                       auto o = std::make_shared<KnockOpts>();
                       ana::addModelPrompt(sub, o->mp);
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
