// `layerlens-cli routing`: MoE routing statistics (ALGORITHMS.md §9) for a prompt, with the router
// intervention flags of `run` (--ban-expert, --force-expert, --bias-expert) plus --promote L:E
// (soft promotion by λ·std(z), --lambda). --dump writes routing-<l>.npy f32 [T, E] (weights the
// model applies, after top-k and its own renormalisation) per MoE layer and load.npy f32 [L, E]
// (fraction of tokens choosing each expert). --compare-text T2 prints the per-layer JSD between the
// two prompts' mean routing. --task FILE --neutral FILE picks experts with Δ = routing frequency
// on task prompts − on neutral prompts > --tau (rt::ana::expertContrast, as `contrast`; middle
// layers unless --all-layers). Prints JSON.
#include <filesystem>

#include "cmd_analysis_common.h"
#include "runtime/analysis/expert_contrast.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/api/intervention_args.h"
#include "runtime/api/npy_io.h"

namespace ll::cli {

void addInterventionFlags(CLI::App& sub, rt::InterventionArgs& iv);  // cmd_run.cpp

namespace {

struct RoutingOpts {
  ana::ModelPrompt mp;
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

int routingCommand(const RoutingOpts& o) {
  auto s = ana::openSession(o.mp);
  const auto& spec = s->model().spec;
  if (spec.nExpert <= 0)
    throw std::invalid_argument("routing: " + o.mp.model + " is not a MoE model");
  rt::RunRequest req;
  req.interventions = rt::buildInterventions(o.iv, spec);
  std::vector<std::pair<int, int>> prom;
  for (const auto& p : o.promote) prom.push_back(parseLE(p));
  for (const auto& e : rt::ana::softPromotion(prom, o.lambda))
    req.interventions.router.push_back(e);
  auto tr = s->run(req);
  const int T = tr->nTokens, E = tr->nExpert, L = tr->nLayer;
  nlohmann::json j;
  j["n_tokens"] = T;
  j["n_expert"] = E;
  j["n_expert_used"] = tr->nExpertUsed;
  j["moe_layers"] = rt::ana::moeLayers(*tr);
  auto load = rt::ana::expertLoad(*tr);
  std::vector<std::vector<float>> loadRows;
  for (int l = 0; l < L; ++l)
    loadRows.emplace_back(load.begin() + size_t(l) * E, load.begin() + size_t(l + 1) * E);
  j["load"] = loadRows;
  auto ept = rt::ana::expertsPerToken(*tr, o.coverage);
  std::vector<std::vector<int>> eptRows;
  for (int l = 0; l < L; ++l)
    eptRows.emplace_back(ept.begin() + size_t(l) * T, ept.begin() + size_t(l + 1) * T);
  j["experts_per_token"] = eptRows;
  j["coverage"] = o.coverage;
  auto over = rt::ana::overForcedLayers(req.interventions.router, tr->nExpertUsed);
  if (!over.empty()) j["warning_more_forced_than_k"] = over;
  if (!o.compareText.empty()) {
    auto other = ana::openSession(o.mp);
    other->setPrompt(o.compareText, o.mp.bos ? 1 : (o.mp.noBos ? 0 : -1));
    j["jsd"] = rt::ana::routingJsd(*tr, *other->run(req));
  }
  if (!o.task.empty() || !o.neutral.empty()) {
    if (o.task.empty() || o.neutral.empty())
      throw std::invalid_argument("routing: the expert picker needs --task and --neutral");
    // The expert contrast of `contrast` (one definition), in the middle layers by default here:
    // the picks feed soft promotion (--promote).
    rt::ana::ExpertContrastRequest rq;
    rq.task = ana::readLines(o.task);
    rq.neutral = ana::readLines(o.neutral);
    rq.tau = o.tau;
    rq.layers = o.allLayers ? rt::ana::ContrastLayers::All : rt::ana::ContrastLayers::Middle;
    const auto c = rt::ana::expertContrast(*s, rq);
    nlohmann::json picks = nlohmann::json::array();
    for (auto [l, e] : c.picked)
      picks.push_back({{"layer", l}, {"expert", e}, {"delta", c.at(l, e)}});
    j["picker"] = {{"tau", o.tau}, {"layers", c.pickLayers}, {"experts", picks}};
  }
  if (!o.dump.empty()) {
    std::filesystem::path dir(o.dump);
    std::filesystem::create_directories(dir);
    for (int l : rt::ana::moeLayers(*tr)) {
      auto m = rt::ana::tokenExpertMatrix(*tr, l);
      rt::writeNpy(dir / ("routing-" + std::to_string(l) + ".npy"), m.data(), {T, E});
    }
    rt::writeNpy(dir / "load.npy", load.data(), {L, E});
    j["dump"] = dir.string();
  }
  ana::printJson(j);
  return 0;
}

RegisterCommand reg{
    {"routing", "MoE routing matrices, expert load, JSD; --dump DIR",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<RoutingOpts>();
       ana::addModelPrompt(sub, o->mp);
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
