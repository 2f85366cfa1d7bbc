// `layerlens-cli patch`: activation patching / causal tracing (ALGORITHMS.md §12). Writes the
// normalised effect of patching one component at every (layer, position) as float32
// [n_layer, T] .npy, optionally the per-head grid at the last position, and prints a summary.
#include <cstdio>
#include <filesystem>

#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/patching.h"
#include "runtime/api/npy_io.h"

namespace ll::cli {
namespace {

struct PatchOpts {
  ana::ModelPrompt mp;  // model, backend, threads, BOS handling
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

std::vector<int32_t> promptIds(rt::Session& s, const PatchOpts& o, const std::string& text,
                               const std::string& ids, const char* idsFlag) {
  if (!ids.empty()) return ana::parseIdList(ids, idsFlag);
  if (!s.model().tokenizer) throw std::runtime_error("the model has no tokenizer; pass ids");
  const int bos = o.mp.bos ? 1 : (o.mp.noBos ? 0 : -1);
  auto t = s.model().tokenizer->encode(text, bos).ids;
  if (t.empty()) throw std::invalid_argument("the prompt '" + text + "' gives no tokens");
  return t;
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
  rt::ana::PatchingRequest rq;
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
  checkWritable(o.out, "--out");
  if (rq.heads) checkWritable(o.heads, "--heads");
  fig::checkFigureOut(o.figure);

  auto s = std::make_unique<rt::Session>();
  s->load(o.mp.model, rt::parseBackend(o.mp.backend, o.mp.threads, o.mp.cpuMath));
  const auto clean = promptIds(*s, o, o.clean, o.cleanIds, "--clean-ids");
  const auto corrupt = corrupted ? promptIds(*s, o, o.corrupt, o.corruptIds, "--corrupt-ids")
                                 : std::vector<int32_t>{};
  const rt::ana::PatchingResult r = rt::ana::activationPatching(*s, clean, corrupt, rq);
  try {
    rt::writeNpy(o.out, r.effect.data(), {r.nLayer, r.nTokens});
    if (rq.heads) rt::writeNpy(o.heads, r.headEffect.data(), {r.nLayer, r.nHead});
    fig::FigureInput in;
    in.session = s.get();
    in.ids = clean;
    in.model = o.mp.model;
    in.prompt = o.cleanIds.empty() ? o.clean : "ids:" + o.cleanIds;
    in.corruption = !o.noise.empty()
                        ? "noise on tokens " + std::to_string(rq.noiseBegin) + "-" +
                              std::to_string(rq.noiseEnd - 1)
                        : "corrupted prompt \"" +
                              (o.corruptIds.empty() ? o.corrupt : "ids:" + o.corruptIds) + "\"";
    fig::writeFigure(o.figure, in, &r);
  } catch (...) {  // no partial output: the arrays go with a failed figure
    std::error_code ec;
    std::filesystem::remove(o.out, ec);
    if (rq.heads) std::filesystem::remove(o.heads, ec);
    throw;
  }
  nlohmann::json j;
  j["target"] = r.request.target;
  j["other"] = r.request.other;
  j["metric"] = rt::ana::patchMetricName(rq.metric);
  j["component"] = rt::ana::patchComponentName(rq.component);
  j["direction"] = rt::ana::patchDirectionName(rq.direction);
  j["metric_clean"] = r.metricClean;
  j["metric_corrupt"] = r.metricCorrupt;
  j["first_diff"] = r.firstDiff;
  j["n_layer"] = r.nLayer;
  j["n_tokens"] = r.nTokens;
  j["passes"] = r.passes;
  ana::printJson(j);
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
       auto* b = sub.add_flag("--bos", o->mp.bos, "add BOS to prompt texts");
       sub.add_flag("--no-bos", o->mp.noBos, "do not add BOS to prompt texts")->excludes(b);
       return [o] { return patchCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
