// `layerlens-cli contrast`: expert contrast (ALGORITHMS.md §9). Routing frequency per layer and
// expert on task prompts minus on neutral prompts, and the experts with Δ > τ, written as JSON
// (delta [n_layer][n_expert], picked, the per-set frequencies): the document the GUI's Expert
// contrast data export writes. With --server the prompts are read here and the runs are there.
#include <filesystem>
#include <fstream>

#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/expert_contrast.h"

namespace ll::cli {
namespace {

struct ContrastOpts {
  std::string model, backend = "cpu", cpuMath, out, layers;
  ServerTarget server;
  int threads = 0;
  std::vector<std::string> task, neutral;
  rt::ana::ExpertContrastRequest rq;
  bool promoteAll = false;
  fig::FigureOut figure;
};

// Each argument is a file of prompts (one per line) when such a file exists, else a prompt.
std::vector<std::string> promptsOf(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(a, ec)) {
      for (auto& line : ana::readLines(a)) out.push_back(std::move(line));
    } else {
      out.push_back(a);
    }
  }
  return out;
}

int contrastCommand(ContrastOpts o) {
  // Prompt files are read here and sent as prompts: a server never opens the client's files.
  o.rq.task = promptsOf(o.task);
  o.rq.neutral = promptsOf(o.neutral);
  if (!o.layers.empty()) o.rq.layers = rt::ana::parseContrastLayers(o.layers);
  o.rq.promoteMiddleOnly = !o.promoteAll;
  ana::refuseFigureRemote(o.server, o.figure.path);
  fig::checkFigureOut(o.figure);
  ana::writeTextOut(o.out, [&] {
    auto s = openCliSession(o.model, o.backend, o.threads, o.server, o.cpuMath);
    const rt::ana::AnalysisOutput out = s->analyze(o.rq);
    if (const rt::Session* ls = s->local()) {
      fig::FigureInput in;  // the caption names the prompt sets (vis::contrastCaption)
      in.session = ls;
      in.model = o.model;
      fig::writeFigure(o.figure, in, &std::get<rt::ana::ExpertContrastResult>(out.result));
    }
    return out.document;
  });
  return 0;
}

RegisterCommand reg{
    {"contrast",
     "expert contrast: routing frequency on task minus neutral prompts, experts with Δ > τ (JSON "
     "--out)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<ContrastOpts>();
       sub.add_option("model", o->model, "model file or folder")->required();
       sub.add_option("--task", o->task, rt::ana::kContrastTaskHelp)->required();
       sub.add_option("--neutral", o->neutral, rt::ana::kContrastNeutralHelp)->required();
       sub.add_option("--tau", o->rq.tau, rt::ana::kContrastTauHelp);
       sub.add_option("--layers", o->layers, rt::ana::kContrastLayersHelp)
           ->check(CLI::IsMember({"all", "middle"}));
       sub.add_option("--lambda", o->rq.lambda, rt::ana::kContrastLambdaHelp);
       sub.add_flag("--promote-all-layers", o->promoteAll, rt::ana::kContrastPromoteHelp);
       sub.add_option("--threads", o->threads, "CPU threads (default: all)");
       sub.add_option("--backend", o->backend, "cpu or cuda");
       addCpuMathOption(sub, o->cpuMath);
       addServerOptions(sub, o->server);
       sub.add_option("--out", o->out, "JSON file to write")->required();
       fig::addFigureOption(sub, o->figure, "--figure", "the layer x expert differences");
       return [o] { return contrastCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
