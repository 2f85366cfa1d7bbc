// `layerlens-cli run`: one forward pass with capture; --dump writes the layout of
// shared/reference (tokens.json, logits, attention per layer, residuals, MoE routing) as .npy.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

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
  bool bos = false, noBos = false;
  rt::InterventionArgs iv;
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

int runCommand(const RunOpts& o) {
  rt::Session session;
  session.load(o.model, rt::parseBackend(o.backend, o.threads, o.cpuMath));
  if (!o.ids.empty()) {
    session.setPromptIds(ana::parseIdList(o.ids, "--ids"));
  } else {
    session.setPrompt(o.text, o.bos ? 1 : (o.noBos ? 0 : -1));
  }
  rt::RunRequest req;
  req.interventions = rt::buildInterventions(o.iv, session.model().spec);
  auto tr = session.run(req);
  const int T = tr->nTokens, d = tr->nEmbd, H = tr->nHead;
  std::printf("%s: %d tokens, %d layers, backend %s\n", o.model.c_str(), T, tr->nLayer,
              session.backendName().c_str());
  if (o.dump.empty()) return 0;
  namespace fs = std::filesystem;
  fs::path dir(o.dump);
  fs::create_directories(dir);
  nlohmann::json tj;
  tj["prompt"] = o.text;
  tj["add_bos"] = !tr->ids.empty() && session.model().tokenizer &&
                  tr->ids[0] == session.model().tokenizer->bos();
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
  rt::writeNpy(dir / "final_norm.npy", tr->finalNormRows(0, T).data(), {T, d});
  std::vector<float> attn(size_t(H) * T * T);
  for (int l = 0; l < tr->nLayer; ++l) {
    const std::string ls = std::to_string(l);
    for (int h = 0; h < H; ++h) {
      auto m = session.attentionMap(*tr, l, h);
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
                       addCpuMathOption(sub, o->cpuMath);
                       auto* b = sub.add_flag("--bos", o->bos, "add BOS");
                       auto* nb = sub.add_flag("--no-bos", o->noBos, "do not add BOS");
                       b->excludes(nb);
                       addInterventionFlags(sub, o->iv);
                       return [o] {
                         if (o->text.empty() && o->ids.empty())
                           throw std::invalid_argument("run: give --text or --ids");
                         return runCommand(*o);
                       };
                     }}};
}  // namespace

}  // namespace ll::cli
