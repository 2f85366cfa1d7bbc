// `layerlens-cli flow`: information-flow routes (ALGORITHMS.md §14). Writes the contribution graph
// (nodes (level, token), weighted edges) and the routes to one output token as JSON, the same
// document the GUI's "Flow routes" data export writes. Fields are listed in --help and the README.
#include <filesystem>
#include <fstream>

#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/flow_routes.h"

namespace ll::cli {
namespace {

constexpr const char* kFlowJsonHelp =
    "Writes the information-flow graph of ALGORITHMS.md §14 as JSON: n_layer, n_tokens, "
    "threshold, position, tokens (ids), pairs_total / pairs_evaluated (attention pairs whose "
    "exact contribution was needed), nodes [{id, level, layer, stage, token, flow}] and edges "
    "[{src, dst, layer, kind, src_token, dst_token, weight, flow}]. Node levels: 2l is the input "
    "of layer l (stage in; 0 = embeddings), 2l+1 the stream after layer l's attention (mid), 2L "
    "the last layer's output (out); id = level * n_tokens + token. Edge kinds: attn (source token "
    "-> destination, level 2l -> 2l+1), attn_resid, mlp and mlp_resid (2l+1 -> 2l+2). weight: the "
    "renormalised contribution (a destination's edges sum to 1); flow: the share of the routes to "
    "the output token at position that passes through the node or edge (0: not on a route).";

struct FlowOpts {
  ana::ModelPrompt mp;
  ServerTarget server;
  std::string out;
  double threshold = rt::ana::FlowRequest{}.threshold;
  int position = rt::ana::FlowRequest{}.position;
  fig::FigureOut figure;
};

int flowCommand(const FlowOpts& o) {
  rt::ana::FlowRequest rq;
  rq.threshold = o.threshold;
  rq.position = o.position;
  rq.threads = o.mp.threads;  // --threads bounds the graph's host threads as well
  ana::refuseFigureRemote(o.server, o.figure.path);
  fig::checkFigureOut(o.figure);
  ana::writeTextOut(o.out, [&] {
    return ana::runAnalysisHereOrThere(
        o.mp, o.server, rq, [&](const rt::Session& s, const rt::ana::AnalysisOutput& out) {
          fig::FigureInput in = fig::figureInput(s, o.mp.model, o.mp.text, o.mp.ids);
          in.position = rq.position;
          fig::writeFigure(o.figure, in, &std::get<rt::ana::FlowGraph>(out.result));
        });
  });
  return 0;
}

RegisterCommand reg{
    {"flow", "information-flow routes: the contribution graph and routes to a token (JSON --out)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<FlowOpts>();
       sub.footer(kFlowJsonHelp);
       ana::addModelPrompt(sub, o->mp);
       addServerOptions(sub, o->server);
       sub.add_option("--threshold", o->threshold, rt::ana::kFlowThresholdHelp);
       sub.add_option("--position", o->position, rt::ana::kFlowPositionHelp);
       sub.add_option("--out", o->out, "JSON file to write")->required();
       fig::addFigureOption(sub, o->figure, "--figure",
                            "the route flow per node (levels x tokens)");
       return [o] { return flowCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
