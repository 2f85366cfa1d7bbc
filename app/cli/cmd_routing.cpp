// `layerlens-cli routing`: MoE routing statistics (ALGORITHMS.md §9) for a prompt, with the router
// intervention flags of `run` (--ban-expert, --force-expert, --bias-expert) plus --promote L:E
// (soft promotion by λ·std(z), --lambda). --dump writes routing-<l>.npy f32 [T, E] (weights the
// model applies, after top-k and its own renormalisation) per MoE layer and load.npy f32 [L, E]
// (fraction of tokens choosing each expert). --compare-text T2 prints the per-layer JSD between the
// two prompts' mean routing. --task FILE --neutral FILE picks experts with Δ = routing frequency
// on task prompts − on neutral prompts > --tau (rt::ana::expertContrast, as `contrast`; middle
// layers unless --all-layers). Prints JSON. With --server the runs are there (the named analysis
// "routing", the flags' interventions sent with it) and the dump arrays come back.
#include <filesystem>

#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/api/intervention_args.h"

namespace ll::cli {

void addInterventionFlags(CLI::App& sub, rt::InterventionArgs& iv);  // cmd_run.cpp

namespace {

struct RoutingOpts {
  ana::ModelPrompt mp;
  ServerTarget server;
  std::string dump, compareText, task, neutral;
  float tau = rt::ana::ExpertContrastRequest{}.tau;  // the expert contrast's default
  bool allLayers = false;
  std::vector<std::string> promote;
  float lambda = 0.5f, coverage = 0.9f;
  rt::InterventionArgs iv;
};

std::pair<int, int> parseLE(const std::string& s) {
  const size_t c = s.find(':');
  try {
    size_t u1 = 0, u2 = 0;
    if (c == std::string::npos) throw std::invalid_argument("");
    const int l = std::stoi(s.substr(0, c), &u1), e = std::stoi(s.substr(c + 1), &u2);
    if (u1 != c || u2 != s.size() - c - 1) throw std::invalid_argument("");
    return {l, e};
  } catch (const std::exception&) {
    throw std::invalid_argument("--promote: '" + s + "' is not LAYER:EXPERT");
  }
}

// An array name the analysis gave is a file name in the --dump folder, never a path (a server's
// reply cannot write outside the folder).
std::filesystem::path dumpFile(const std::filesystem::path& dir, const std::string& name) {
  const std::filesystem::path p(name);
  if (name.empty() || p.filename() != p || name == "." || name == ".." || p.extension() != ".npy")
    throw std::runtime_error("routing: the analysis returned an array named '" + name + "'");
  return dir / p;
}

int routingCommand(const RoutingOpts& o) {
  auto s = ana::openPrompted(o.mp, o.server);
  const auto& spec = s->spec();
  if (spec.nExpert <= 0)
    throw std::invalid_argument("routing: " + o.mp.model + " is not a MoE model");
  rt::Interventions iv = rt::buildInterventions(o.iv, spec);
  std::vector<std::pair<int, int>> prom;
  for (const auto& p : o.promote) prom.push_back(parseLE(p));
  for (const auto& e : rt::ana::softPromotion(prom, o.lambda)) iv.router.push_back(e);
  rt::ana::RoutingCall call;
  call.coverage = o.coverage;
  call.compareText = o.compareText;
  call.addBos = o.mp.bos ? 1 : (o.mp.noBos ? 0 : -1);
  if (!o.task.empty() || !o.neutral.empty()) {
    if (o.task.empty() || o.neutral.empty())
      throw std::invalid_argument("routing: the expert picker needs --task and --neutral");
    // Read here, sent as prompts: a server never opens the client's files.
    call.task = ana::readLines(o.task);
    call.neutral = ana::readLines(o.neutral);
  }
  call.tau = o.tau;
  call.allLayers = o.allLayers;
  call.dump = o.dump;
  const rt::ana::AnalysisOutput out = s->analyze(call, iv);
  if (!o.dump.empty()) {
    const std::filesystem::path dir(o.dump);
    std::filesystem::create_directories(dir);
    for (const auto& a : out.arrays) ana::writeArray(dumpFile(dir, a.name), a);
  }
  std::printf("%s\n", out.document.c_str());
  return 0;
}

RegisterCommand reg{
    {"routing", "MoE routing matrices, expert load, JSD; --dump DIR",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<RoutingOpts>();
       ana::addModelPrompt(sub, o->mp);
       addServerOptions(sub, o->server);
       sub.add_option("--dump", o->dump, "folder for routing-<l>.npy and load.npy");
       sub.add_option("--compare-text", o->compareText,
                      "second prompt: JSD per layer of the mean routing");
       sub.add_option("--promote", o->promote, "soft promotion of an expert: L:E (repeatable)");
       sub.add_option("--lambda", o->lambda, "soft promotion strength (x std(z))");
       sub.add_option("--coverage", o->coverage, "experts per token: probability mass to cover");
       sub.add_option("--task", o->task, "expert picker: task prompts, one per line");
       sub.add_option("--neutral", o->neutral, "expert picker: neutral prompts");
       sub.add_option("--tau", o->tau, "expert picker: threshold on the frequency gain");
       sub.add_flag("--all-layers", o->allLayers,
                    "expert picker: every layer (default: middle third)");
       addInterventionFlags(sub, o->iv);
       return [o] { return routingCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
