// Subcommands of layerlens-cli register themselves here (one file per subcommand), so the CLI grows
// without a central switch. Each returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace ll::cli {

struct Command {
  std::string name;
  std::string help;
  // Adds options to sub and returns the action to run when the subcommand is chosen.
  std::function<std::function<int()>(CLI::App& sub)> setup;
};

std::vector<Command>& commands();

struct RegisterCommand {
  explicit RegisterCommand(Command c) { commands().push_back(std::move(c)); }
};

}  // namespace ll::cli
