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

// --cpu-math fast|precise beside --backend/--threads: the CPU backend's numerics (empty:
// LAYERLENS_CPU_MATH, default precise).
inline void addCpuMathOption(CLI::App& sub, std::string& cpuMath) {
  sub.add_option("--cpu-math", cpuMath,
                 "CPU math: precise (default; f32 products) or fast (bf16 dot products for "
                 "F16/BF16, int8 for quantized weights on AVX-512 BF16/VNNI CPUs)")
      ->check(CLI::IsMember({"precise", "fast"}));
}

struct RegisterCommand {
  explicit RegisterCommand(Command c) { commands().push_back(std::move(c)); }
};

}  // namespace ll::cli
