// What the CLI parity tests share: the built layerlens-cli (the test skips when it is missing),
// running it with stderr merged, the reference token ids of the "park" prompt, and ids as the
// comma-separated list --ids takes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cli_process.h"
#include "parity_common.h"

namespace clitest {

// The CLI next to the test binaries; skips the test (lltest::Skip) when it was not built.
inline std::filesystem::path cli() {
  const auto p = cliPath();
  if (p.empty()) throw lltest::Skip{"layerlens-cli not built next to the tests"};
  return p;
}

// `layerlens-cli args` with stderr merged; *code = exit code (-1: it did not exit normally).
inline std::string runCli(const std::string& args, int* code) {
  return runMerged(cli(), args, code);
}

// The token ids of the reference "park" prompt of a model (../shared/reference/REF/park).
inline std::vector<int32_t> parkIds(const std::string& ref) {
  return parity::readJson(lltest::sharedDir() / "reference" / ref / "park" / "tokens.json")["ids"]
      .get<std::vector<int32_t>>();
}

inline std::string joinIds(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t v : ids) {  // appended piecewise: GCC 12 warns (-Wrestrict) on "," + string
    if (!s.empty()) s += ',';
    s += std::to_string(v);
  }
  return s;
}

}  // namespace clitest
