// Parity tests of the CLI: the layerlens-cli binary built beside the test binaries, run as a real
// process with its output captured.
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <sys/wait.h>

namespace clitest {

// build/app/layerlens-cli next to this test's build/tests/ folder; empty when it was not built.
inline std::filesystem::path cliPath() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  auto p = self.parent_path().parent_path() / "app" / "layerlens-cli";
  return std::filesystem::exists(p) ? p : std::filesystem::path();
}

// Runs a shell command and returns its standard output; *rc is pclose's status.
inline std::string runCapture(const std::string& cmd, int* rc) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
  *rc = pclose(f);
  return out;
}

// Runs `cli args` with stderr merged into the returned text; *code = exit code (-1: not exited).
inline std::string runMerged(const std::filesystem::path& cli, const std::string& args, int* code) {
  int rc = -1;
  const std::string out = runCapture(cli.string() + " " + args + " 2>&1", &rc);
  *code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

}  // namespace clitest
