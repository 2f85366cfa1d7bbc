// layerlens-cli: the headless front end (no Qt). Subcommands live in cmd_*.cpp.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "command.h"
#include "runtime/dist/launch_env.h"

namespace ll::cli {
std::vector<Command>& commands() {
  static std::vector<Command> c;
  return c;
}
}  // namespace ll::cli

int main(int argc, char** argv) {
  CLI::App app{"layerlens-cli: look inside transformer language models from the command line"};
  app.set_version_flag("--version", std::string("layerlens-cli ") + LAYERLENS_VERSION);
  app.require_subcommand(1);
  std::function<int()> action;
  std::string chosen;
  for (auto& c : ll::cli::commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    auto run = std::make_shared<std::function<int()>>();
    *run = c.setup(*sub);
    // Commands that cannot run on a server (figure draws from a session in this process; serve and
    // demo-model run no model) refuse --server instead of running locally.
    auto server = std::make_shared<std::string>();
    if (!sub->get_option_no_throw("--server"))
      sub->add_option("--server", *server, "not supported by this command")->group("");
    sub->callback([run, server, name = c.name, &action, &chosen] {
      chosen = name;
      if (server->empty()) {
        action = *run;
        return;
      }
      action = [name] {
        std::fprintf(stderr,
                     "layerlens-cli %s: --server is not supported by this command "
                     "(remote-capable: info, tokenize, run, generate, lens, attention, select, "
                     "attribute, skip, latent, flow, patch, knockout, steer-sweep, contrast, "
                     "compare, routing, steer-vector)\n",
                     name.c_str());
        return 2;
      };
    });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // Under `mpirun -np N` (N > 1) `run`, `generate` and `serve` split the layers over the ranks;
  // any other command would run N times side by side.
  const bool splits = chosen == "run" || chosen == "generate" || chosen == "serve";
  if (action && !splits && ll::rt::dist::launchedWithSeveralRanks()) {
    std::fprintf(stderr,
                 "layerlens-cli: error: only `run`, `generate` and `serve` are split across MPI "
                 "ranks; start `%s` as one process\n",
                 chosen.c_str());
    return 1;
  }
  try {
    return action ? action() : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "layerlens-cli: error: %s\n", e.what());
    return 1;
  }
}
