// `layerlens-cli run`: one forward pass with capture; --dump writes the layout of
// shared/reference (tokens.json, logits, attention per layer, residuals, MoE routing) as .npy.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "cli_session.h"
#include "cli_split.h"
#include "cmd_analysis_common.h"
#include "command.h"
#include "runtime/api/intervention_args.h"
#include "runtime/api/npy_io.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::cli {
namespace {

struct RunOpts {
  std::string model, text, ids, dump, backend = "cpu", cpuMath;
  int threads = 0;
  double rankTimeout = 60.0;
  bool bos = false, noBos = false;
  rt::InterventionArgs iv;
  ServerTarget target;
};

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) {
    h.push_back(d[c >> 4]);
    h.push_back(d[c & 15]);
  }
  return h;
}

// split: the ranks of `mpirun -np N` (null in one process).
int runPass(const RunOpts& o, SplitRun* split) {
  if (split && o.target.remote())
    throw std::invalid_argument("run: --server cannot be combined with mpirun's ranks");
  auto session = openCliSession(o.model, o.backend, o.threads, o.target, o.cpuMath,
                                split ? split->share(false) : rt::StageShare{});
  if (split) {
    rt::Session& local = *session->local();  // a local session: --server was refused above
    if (!split->isDriver()) return split->serve(local);
    split->attach(local);
  }
  if (!o.ids.empty()) {
    session->setPromptIds(ana::parseIdList(o.ids, "--ids"));
  } else {
    session->setPrompt(o.text, o.bos ? 1 : (o.noBos ? 0 : -1));
  }
  rt::RunRequest req;
  req.interventions = rt::buildInterventions(o.iv, session->spec());
  using namespace remote;  // TracePart
  auto tr = session->run(
      req,
      o.dump.empty() ? 0u : kPartLogits | kPartEmbd | kPartFinalNorm | kPartResid | kPartRouting);
  if (split) split->fetchHead();
  const int T = tr->nTokens, d = tr->nEmbd, H = tr->nHead;
  std::printf("%s: %d tokens, %d layers, backend %s\n", o.model.c_str(), T, tr->nLayer,
              session->backendName().c_str());
  if (o.dump.empty()) return 0;
  namespace fs = std::filesystem;
  fs::path dir(o.dump);
  fs::create_directories(dir);
  nlohmann::json tj;
  tj["prompt"] = o.text;
  tj["add_bos"] = !tr->ids.empty() && session->hasTokenizer() && tr->ids[0] == session->bos();
  tj["n_tokens"] = T;
  tj["ids"] = tr->ids;
  nlohmann::json pieces = nlohmann::json::array(), hexes = nlohmann::json::array();
  for (const auto& p : tr->pieces) {
    pieces.push_back(p);
    hexes.push_back(hex(p));
  }
  tj["pieces"] = pieces;
  tj["pieces_hex"] = hexes;
  {
    std::ofstream f(dir / "tokens.json");
    f << tj.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    if (!f) throw std::runtime_error("cannot write " + (dir / "tokens.json").string());
  }
  rt::writeNpy(dir / "logits.npy", tr->logits.data(), {T, tr->nVocab});
  rt::writeNpy(dir / "embd.npy", tr->embd.data(), {T, d});
  if (split) split->fetchLayer(tr->nLayer - 1);  // the final norm is recomputed from it on the CPU
  rt::writeNpy(dir / "final_norm.npy", tr->finalNormRows(0, T).data(), {T, d});
  std::vector<float> attn(size_t(H) * T * T);
  for (int l = 0; l < tr->nLayer; ++l) {
    const std::string ls = std::to_string(l);
    if (split) split->fetchLayer(l);
    for (int h = 0; h < H; ++h) {
      auto m = session->attentionMap(*tr, l, h);
      std::copy(m.begin(), m.end(), attn.begin() + size_t(h) * T * T);
    }
    rt::writeNpy(dir / ("attn-" + ls + ".npy"), attn.data(), {H, T, T});
    const auto& L = tr->layers[l];
    rt::writeNpy(dir / ("resid-" + ls + ".npy"), L.resid.data(), {T, d});
    if (!L.routerLogits.empty()) {
      rt::writeNpy(dir / ("router-" + ls + ".npy"), L.routerLogits.data(), {T, tr->nExpert});
      rt::writeNpy(dir / ("experts-" + ls + ".npy"), L.experts.data(), {T, tr->nExpertUsed});
      rt::writeNpy(dir / ("expert_weights-" + ls + ".npy"), L.expertWeights.data(),
                   {T, tr->nExpertUsed});
    }
  }
  std::printf("wrote %s\n", dir.string().c_str());
  return 0;
}

int runCommand(const RunOpts& o) {
  auto split = SplitRun::start(o.rankTimeout);
  if (!split) return runPass(o, nullptr);
  try {
    return runPass(o, split.get());
  } catch (const std::exception& e) {
    split->fail(e.what());  // ends every rank: none is left waiting for this one
  }
  return 1;  // not reached: fail() does not return
}

}  // namespace

// Flags shared with `generate` (declared there).
void addInterventionFlags(CLI::App& sub, rt::InterventionArgs& iv) {
  sub.add_option("--steer", iv.steerPath, "steering vector (.npy f32 [n_embd])");
  sub.add_option("--steer-layer", iv.steerLayer,
                 "layer whose output is steered (default 0.7 * n_layer)");
  sub.add_option("--steer-alpha", iv.steerAlpha, "steering strength");
  sub.add_option("--steer-from", iv.steerFrom, "first sequence index steered");
  sub.add_option("--ban-expert", iv.banExperts, "switch an expert off: L:E (repeatable)");
  sub.add_option("--force-expert", iv.forceExperts, "force an expert on: L:E (repeatable)");
  sub.add_option("--bias-expert", iv.biasExperts,
                 "add to an expert's router logit: L:E:VALUE (repeatable)");
}

namespace {
RegisterCommand reg{{"run", "run a prompt and dump logits, attention, residuals (reference layout)",
                     [](CLI::App& sub) -> std::function<int()> {
                       auto o = std::make_shared<RunOpts>();
                       sub.add_option("model", o->model, "model file or folder")->required();
                       auto* text = sub.add_option("--text", o->text, "prompt text");
                       auto* ids =
                           sub.add_option("--ids", o->ids, "prompt token ids, comma separated");
                       text->excludes(ids);
                       sub.add_option("--dump", o->dump, "folder to write .npy/.json into");
                       sub.add_option("--threads", o->threads, "CPU threads (default: all)");
                       sub.add_option("--backend", o->backend, "cpu or cuda");
                       sub.add_option("--rank-timeout", o->rankTimeout,
                                      "under mpirun: seconds to wait for another rank before "
                                      "reporting it dead or hung (default 60)");
                       addCpuMathOption(sub, o->cpuMath);
                       auto* b = sub.add_flag("--bos", o->bos, "add BOS");
                       auto* nb = sub.add_flag("--no-bos", o->noBos, "do not add BOS");
                       b->excludes(nb);
                       addInterventionFlags(sub, o->iv);
                       addServerOptions(sub, o->target);
                       return [o] {
                         if (o->text.empty() && o->ids.empty())
                           throw std::invalid_argument("run: give --text or --ids");
                         return runCommand(*o);
                       };
                     }}};
}  // namespace

}  // namespace ll::cli
