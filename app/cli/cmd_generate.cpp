// `layerlens-cli generate`: continues a prompt greedily or by sampling (with the same intervention
// flags as `run`) and prints the continuation.
#include <cstdio>
#include <stdexcept>

#include "cli_session.h"
#include "cli_split.h"
#include "command.h"
#include "runtime/api/intervention_args.h"
#include "runtime/api/session.h"

namespace ll::cli {

void addInterventionFlags(CLI::App& sub, rt::InterventionArgs& iv);  // cmd_run.cpp

namespace {

struct GenOpts {
  std::string model, text, backend = "cpu", cpuMath;
  int n = 32, threads = 0, topK = 0;
  double rankTimeout = 60.0;
  bool greedy = false, bos = false, noBos = false, stopEos = true;
  float temp = 0.8f, topP = 1.0f;
  uint64_t seed = 0;
  rt::InterventionArgs iv;
  ServerTarget target;
};

// split: the ranks of `mpirun -np N` (null in one process); each decode step is a one-row pass
// over the stages, each with its KV cache.
int generate(const GenOpts& o, SplitRun* split) {
  if (split && o.target.remote())
    throw std::invalid_argument("generate: --server cannot be combined with mpirun's ranks");
  auto session = openCliSession(o.model, o.backend, o.threads, o.target, o.cpuMath,
                                split ? split->share(false) : rt::StageShare{});
  if (split) {
    rt::Session& local = *session->local();  // a local session: --server was refused above
    if (!split->isDriver()) return split->serve(local);
    split->attach(local);
  }
  session->setPrompt(o.text, o.bos ? 1 : (o.noBos ? 0 : -1));
  rt::GenerateRequest req;
  req.maxTokens = o.n;
  req.stopAtEos = o.stopEos;
  req.sampling.greedy = o.greedy;
  req.sampling.temperature = o.temp;
  req.sampling.topK = o.topK;
  req.sampling.topP = o.topP;
  req.sampling.seed = o.seed;
  req.interventions = rt::buildInterventions(o.iv, session->spec());
  std::fwrite(o.text.data(), 1, o.text.size(), stdout);
  session->generate(req, [](int32_t, const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::printf("\n");
  return 0;
}

int generateCommand(const GenOpts& o) {
  auto split = SplitRun::start(o.rankTimeout);
  if (!split) return generate(o, nullptr);
  try {
    return generate(o, split.get());
  } catch (const std::exception& e) {
    split->fail(e.what());  // ends every rank: none is left waiting for this one
  }
  return 1;  // not reached: fail() does not return
}

RegisterCommand reg{
    {"generate", "continue a prompt (greedy or sampled), with interventions",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<GenOpts>();
       sub.add_option("model", o->model, "model file or folder")->required();
       sub.add_option("--text", o->text, "prompt text")->required();
       sub.add_option("--n", o->n, "tokens to generate (default 32)");
       auto* g = sub.add_flag("--greedy", o->greedy, "argmax decoding");
       auto* t = sub.add_option("--temp", o->temp, "sampling temperature (default 0.8)");
       auto* k = sub.add_option("--top-k", o->topK, "keep the k most likely tokens (0 = off)");
       auto* p = sub.add_option("--top-p", o->topP, "nucleus probability (1 = off)");
       sub.add_option("--seed", o->seed, "sampling seed");
       g->excludes(t)->excludes(k)->excludes(p);
       sub.add_flag("!--no-stop", o->stopEos, "do not stop at end-of-sequence");
       sub.add_option("--threads", o->threads, "CPU threads (default: all)");
       sub.add_option("--backend", o->backend, "cpu or cuda");
       sub.add_option("--rank-timeout", o->rankTimeout,
                      "under mpirun: seconds to wait for another rank before reporting it dead "
                      "or hung (default 60)");
       addCpuMathOption(sub, o->cpuMath);
       auto* b = sub.add_flag("--bos", o->bos, "add BOS");
       auto* nb = sub.add_flag("--no-bos", o->noBos, "do not add BOS");
       b->excludes(nb);
       addInterventionFlags(sub, o->iv);
       addServerOptions(sub, o->target);
       return [o] {
         if (o->n < 0) throw std::invalid_argument("--n must be >= 0");
         return generateCommand(*o);
       };
     }}};
}  // namespace

}  // namespace ll::cli
