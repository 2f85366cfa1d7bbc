// Information-flow routes benchmark (§14) on the TinyLlama-1.1B-shaped model with random weights
// (the GGUF bench_analysis writes, written here when absent): at T tokens prints a plain prefill
// (no capture) before and after, the captured pass the graph needs and the graph itself (pruned),
// with the ratios of the graph's time (and of capture + graph) to the plain prefill (wall and CPU)
// and the share of attention pairs the pruning evaluated exactly. Not part of ctest.
//
// usage: bench_flow [--threads 2] [--tokens 2000] [--type Q8_0|F16] [--layers 22] [--out DIR]
//                   [--threshold 0.04]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "fixture_writer.h"
#include "lltest.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

struct Timed {
  double wall = 0, cpu = 0;
};

template <class F>
Timed timed(F&& f) {
  const auto t0 = Clock::now();
  const std::clock_t c0 = std::clock();
  f();
  return {seconds(t0), double(std::clock() - c0) / CLOCKS_PER_SEC};
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parseArgs(argc, argv, 2000, 22);
  const int threads = args.threads, tokens = args.tokens, layers = args.layers;
  const std::string type = args.type;
  const double threshold = args.extra.count("--threshold")
                               ? std::atof(args.extra.at("--threshold").c_str())
                               : ll::rt::ana::FlowRequest{}.threshold;
  const fs::path shared = lltest::sharedDir();
  if (shared.empty()) {
    std::fprintf(stderr, "bench_flow: LAYERLENS_SHARED_DIR (for the tokenizer) not found\n");
    return 1;
  }
  const fs::path file = bench::tinyLlamaShapedModel(args.out, type, layers, shared);
  using Shape = lltest::TinyLlamaShape;
  std::printf(
      "bench_flow: TinyLlama-1.1B shape (L%d d%d H%d/%d ff%d V%d) %s, T = %d, %d threads, "
      "threshold %.3g\n",
      layers, Shape::kEmbd, Shape::kHead, Shape::kHeadKv, Shape::kFf, Shape::kVocab, type.c_str(),
      tokens, threads, threshold);
  ll::rt::Session s;
  s.load(file, {"cpu", threads});
  std::mt19937 rng(5);
  std::vector<int32_t> ids = {1};
  while (static_cast<int>(ids.size()) < tokens)
    ids.push_back(3 + static_cast<int32_t>(rng() % (Shape::kVocab - 3)));
  s.setPromptIds(ids);

  ll::rt::RunRequest plain;
  plain.capture = {false, false};
  s.resetCache();
  const Timed prefill = timed([&] { s.run(plain); });
  std::printf("plain prefill (no capture)          %8.2f s wall, %8.2f s CPU\n", prefill.wall,
              prefill.cpu);

  ll::rt::RunRequest full;  // what the graph needs: per-layer capture
  full.capture = {true, false};
  s.resetCache();
  std::shared_ptr<const ll::rt::Trace> tr;
  const Timed capture = timed([&] { tr = s.run(full); });
  std::printf("prefill with capture                %8.2f s wall, %8.2f s CPU\n", capture.wall,
              capture.cpu);

  ll::rt::ana::FlowRequest rq;
  rq.threshold = threshold;
  rq.threads = threads;
  ll::rt::ana::FlowGraph g;
  const Timed flow = timed([&] { g = ll::rt::ana::flowGraph(s.engine(), *tr, rq); });
  const ll::rt::ana::FlowRoutes r = ll::rt::ana::flowRoutes(g, -1);
  size_t onRoute = 0;
  for (double f : r.edgeFlow) onRoute += f > 0;
  std::printf("flow graph (pruned)                 %8.2f s wall, %8.2f s CPU\n", flow.wall,
              flow.cpu);
  std::printf("  %zu edges (%zu on routes to the last token); exact pairs %lld of %lld (%.2f%%)\n",
              g.edges.size(), onRoute, (long long)g.pairsEvaluated, (long long)g.pairsTotal,
              100.0 * double(g.pairsEvaluated) / double(std::max<int64_t>(1, g.pairsTotal)));
  // A second plain prefill after the graph: on a shared machine the load moves during a run, so
  // the ratios use the mean of the two.
  s.resetCache();
  const Timed prefill2 = timed([&] { s.run(plain); });
  std::printf("plain prefill again                 %8.2f s wall, %8.2f s CPU\n", prefill2.wall,
              prefill2.cpu);
  const double pw = (prefill.wall + prefill2.wall) / 2, pc = (prefill.cpu + prefill2.cpu) / 2;
  std::printf(
      "ratio graph / plain prefill (mean of both)  wall %.2f, CPU %.2f; capture + graph: "
      "wall %.2f, CPU %.2f\n",
      flow.wall / pw, flow.cpu / pc, (capture.wall + flow.wall) / pw,
      (capture.cpu + flow.cpu) / pc);
  return 0;
}
