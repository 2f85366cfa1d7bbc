// Decode benchmark: generation tok/s after a prompt on TinyLlama-1.1B-shaped models (the files
// bench_engine writes; Q4_0 / Q4_K / Q6_K as random blocks), precise and fast CPU math side by side
// in one process so the ratio is taken under the same load. Not part of ctest.
//
// usage: bench_decode [--types Q8_0,F16,Q4_0,Q4_K,Q6_K] [--math precise,fast] [--threads N]
// [--tokens T] [--steps S] [--repeat R] [--layers L] [--out DIR]
// Each decode is timed from the first generated token to the last (S - 1 single-token steps; the
// prompt's own pass is not counted); the modes alternate and the best of R decodes is printed.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.h"
#include "lltest.h"
#include "runtime/api/session.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// Decode rate (tok/s) of one generation of `steps` tokens after the prompt.
double decodeRate(ll::rt::Session& s, const std::vector<int32_t>& ids, int steps) {
  s.setPromptIds(ids);
  ll::rt::RunRequest off;
  off.capture = {false, false};
  s.run(off);  // the prompt, cached for generate
  ll::rt::GenerateRequest g;
  g.maxTokens = steps;
  g.stopAtEos = false;
  std::vector<Clock::time_point> at;
  s.generate(g, [&](int32_t, const std::string&) {
    at.push_back(Clock::now());
    return true;
  });
  const double sec = std::chrono::duration<double>(at.back() - at.front()).count();
  return double(at.size() - 1) / sec;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const bench::Args args = bench::parseArgs(argc, argv, 512, 22);
  auto extra = [&](const char* key, const std::string& def) {
    const auto it = args.extra.find(key);
    return it == args.extra.end() ? def : it->second;
  };
  const std::vector<std::string> types = split(extra("--types", "Q8_0,F16,Q4_0,Q4_K,Q6_K"));
  const std::vector<std::string> maths = split(extra("--math", "precise,fast"));
  const int steps = std::max(2, std::atoi(extra("--steps", "9").c_str()));
  const int repeat = std::max(1, std::atoi(extra("--repeat", "4").c_str()));
  const fs::path shared = lltest::sharedDir();
  if (shared.empty()) {
    std::fprintf(stderr, "bench_decode: LAYERLENS_SHARED_DIR (for the tokenizer) not found\n");
    return 1;
  }
  std::printf(
      "bench_decode: TinyLlama-1.1B shape, %d layers, %d-token prompt, %d threads, %d "
      "steps (best of %d)\n",
      args.layers, args.tokens, args.threads, steps - 1, repeat);
  std::mt19937 rng(5);
  std::vector<int32_t> ids = {1};
  while (static_cast<int>(ids.size()) < args.tokens)
    ids.push_back(3 + static_cast<int32_t>(rng() % (lltest::TinyLlamaShape::kVocab - 3)));
  std::printf("  %-5s %9s", "type", "file MiB");
  for (const std::string& m : maths) std::printf(" %9s", (m + " t/s").c_str());
  if (maths.size() == 2) std::printf(" %9s", "ratio");
  std::printf("\n");
  for (const std::string& type : types) {
    const fs::path file = bench::tinyLlamaShapedModel(args.out, type, args.layers, shared);
    // One session per math mode on the same mapped file; the modes take turns, `repeat` times
    // each, and the best rate of each is kept, so a burst of load elsewhere hits both alike.
    std::vector<std::unique_ptr<ll::rt::Session>> sessions;
    for (const std::string& math : maths) {
      sessions.push_back(std::make_unique<ll::rt::Session>());
      sessions.back()->load(file, {"cpu", args.threads, math});
    }
    std::vector<double> rates(maths.size(), 0.0);
    for (int r = 0; r < repeat; ++r)
      for (size_t m = 0; m < maths.size(); ++m)
        rates[m] = std::max(rates[m], decodeRate(*sessions[m], ids, steps));
    std::printf("  %-5s %9.0f", type.c_str(), fs::file_size(file) / 1048576.0);
    for (double r : rates) std::printf(" %9.2f", r);
    if (rates.size() == 2) std::printf(" %8.2fx", rates[1] / rates[0]);
    std::printf("\n");
  }
  return 0;
}
