// `layerlens-cli patch`: activation patching / causal tracing (ALGORITHMS.md §12). Writes the
// normalised effect of patching one component at every (layer, position) as float32
// [n_layer, T] .npy, optionally the per-head grid at the last position, and prints a summary; with
// --server the sweep runs there (the named analysis "patch") and the arrays come back.
#include <cstdio>
#include <filesystem>

#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/patching.h"

namespace ll::cli {
namespace {

struct PatchOpts {
  ana::ModelPrompt mp;  // model, backend, threads, BOS handling
  ServerTarget server;
  std::string clean, cleanIds, corrupt, corruptIds, noise, out, heads;
  std::string metric = "logit-diff", component = "resid", direction = "denoise";
  int32_t target = rt::ana::PatchingRequest{}.target, other = rt::ana::PatchingRequest{}.other;
  fig::FigureOut figure;
};

// The output's folder must exist before the sweep runs (no file is written on any error).
void checkWritable(const std::string& path, const char* flag) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::absolute(fs::path(path)).parent_path();
  if (fs::path(path).filename().empty() || !fs::is_directory(dir))
    throw std::invalid_argument(std::string(flag) + ": cannot write " + path);
}

// "B:E" -> [B, E).
std::pair<int, int> parseSpan(const std::string& s) {
  const size_t c = s.find(':');
  try {
    size_t a = 0, b = 0;
    if (c != std::string::npos) {
      const int begin = std::stoi(s.substr(0, c), &a), end = std::stoi(s.substr(c + 1), &b);
      if (a == c && b == s.size() - c - 1) return {begin, end};
    }
  } catch (const std::exception&) {
  }
  throw std::invalid_argument("--noise: '" + s + "' is not a span B:E");
}

int patchCommand(const PatchOpts& o) {
  rt::ana::PatchCall call;
  rt::ana::PatchingRequest& rq = call.request;
  rq.metric = rt::ana::parsePatchMetric(o.metric);
  rq.component = rt::ana::parsePatchComponent(o.component);
  rq.direction = rt::ana::parsePatchDirection(o.direction);
  rq.target = o.target;
  rq.other = o.other;
  rq.heads = !o.heads.empty();
  if (o.clean.empty() && o.cleanIds.empty())
    throw std::invalid_argument("give --clean or --clean-ids");
  const bool corrupted = !o.corrupt.empty() || !o.corruptIds.empty();
  if (corrupted == !o.noise.empty())
    throw std::invalid_argument("give one corruption: --corrupt, --corrupt-ids or --noise");
  if (!o.noise.empty()) std::tie(rq.noiseBegin, rq.noiseEnd) = parseSpan(o.noise);
  call.clean = o.clean;
  call.corrupt = o.corrupt;
  if (!o.cleanIds.empty()) call.cleanIds = ana::parseIdList(o.cleanIds, "--clean-ids");
  if (!o.corruptIds.empty()) call.corruptIds = ana::parseIdList(o.corruptIds, "--corrupt-ids");
  call.addBos = o.mp.bos ? 1 : (o.mp.noBos ? 0 : -1);
  checkWritable(o.out, "--out");
  if (rq.heads) checkWritable(o.heads, "--heads");
  ana::refuseFigureRemote(o.server, o.figure.path);
  fig::checkFigureOut(o.figure);

  auto s = ana::openPrompted(o.mp, o.server, true);
  const rt::ana::AnalysisOutput out = s->analyze(call);
  try {
    ana::writeArray(o.out, ana::outputArray(out, "effect"));
    if (rq.heads) ana::writeArray(o.heads, ana::outputArray(out, "heads"));
    if (s->local()) {
      const auto& r = std::get<rt::ana::PatchingResult>(out.result);
      fig::FigureInput in;
      in.session = s->local();
      in.ids = r.clean;
      in.model = o.mp.model;
      in.prompt = o.cleanIds.empty() ? o.clean : "ids:" + o.cleanIds;
      in.corruption = !o.noise.empty()
                          ? "noise on tokens " + std::to_string(rq.noiseBegin) + "-" +
                                std::to_string(rq.noiseEnd - 1)
                          : "corrupted prompt \"" +
                                (o.corruptIds.empty() ? o.corrupt : "ids:" + o.corruptIds) + "\"";
      fig::writeFigure(o.figure, in, &r);
    }
  } catch (...) {  // no partial output: the arrays go with a failed figure
    std::error_code ec;
    std::filesystem::remove(o.out, ec);
    if (rq.heads) std::filesystem::remove(o.heads, ec);
    throw;
  }
  std::printf("%s\n", out.document.c_str());
  return 0;
}

RegisterCommand reg{
    {"patch",
     "activation patching: normalised effect of patching a component at every (layer, position), "
     "float32 [n_layer, T] .npy (--out)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<PatchOpts>();
       sub.add_option("model", o->mp.model, "model file or folder")->required();
       auto* c = sub.add_option("--clean", o->clean, "clean prompt text");
       sub.add_option("--clean-ids", o->cleanIds, "clean prompt token ids, comma separated")
           ->excludes(c);
       auto* r =
           sub.add_option("--corrupt", o->corrupt,
                          "corrupted prompt text (must give as many tokens as the clean one)");
       sub.add_option("--corrupt-ids", o->corruptIds, "corrupted prompt token ids, comma separated")
           ->excludes(r);
       sub.add_option("--noise", o->noise, rt::ana::kPatchNoiseHelp);
       sub.add_option("--target", o->target, rt::ana::kPatchTargetHelp);
       sub.add_option("--other", o->other, rt::ana::kPatchOtherHelp);
       sub.add_option("--metric", o->metric, rt::ana::kPatchMetricHelp)
           ->check(CLI::IsMember({"logit-diff", "prob"}));
       sub.add_option("--component", o->component, rt::ana::kPatchComponentHelp)
           ->check(CLI::IsMember({"resid", "attn", "mlp"}));
       sub.add_option("--direction", o->direction, rt::ana::kPatchDirectionHelp)
           ->check(CLI::IsMember({"denoise", "noise"}));
       sub.add_option("--out", o->out, "float32 [n_layer, T] .npy file of the normalised effect")
           ->required();
       sub.add_option("--heads", o->heads,
                      "also write the per-head grid at the last position, float32 [n_layer, "
                      "n_head] .npy");
       fig::addFigureOption(sub, o->figure, "--figure", "the layer x token effect");
       sub.add_option("--threads", o->mp.threads, "CPU threads (default: all)");
       sub.add_option("--backend", o->mp.backend, "cpu or cuda");
       addCpuMathOption(sub, o->mp.cpuMath);
       addServerOptions(sub, o->server);
       auto* b = sub.add_flag("--bos", o->mp.bos, "add BOS to prompt texts");
       sub.add_flag("--no-bos", o->mp.noBos, "do not add BOS to prompt texts")->excludes(b);
       return [o] { return patchCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
