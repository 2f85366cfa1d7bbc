// Pipeline split over MPI ranks on the TinyLlama-1.1B-shaped model: run under
// `mpirun -np N bench_pipeline [--tokens T] [--layers L] [--threads K] [--reps R]`. Rank 0 prints
// the time of a full-capture prefill of T tokens through the pipeline, of a "keystroke" (the last
// token changed: every stage reuses T - 1 rows), and of one [T, n_embd] f32 residual transfer
// between rank 0 and rank 1 (half a ping-pong). -np 1 gives the one-process baseline through the
// same code (a single stage). Built only with MPI.
#include <chrono>
#include <cstdio>
#include <vector>

#include "bench_common.h"
#include "lltest.h"
#include "runtime/api/session.h"
#include "runtime/dist/pipeline.h"
#include "runtime/dist_mpi/mpi_transport.h"

using namespace ll::rt;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  dist::MpiTransport t(&argc, &argv);
  const bench::Args args = bench::parseArgs(argc, argv, 256, 22);
  const int reps = args.extra.count("--reps") ? std::atoi(args.extra.at("--reps").c_str()) : 3;
  const auto shared = lltest::sharedDir();
  if (shared.empty()) {
    std::fprintf(stderr, "bench_pipeline: needs ../shared (LAYERLENS_SHARED_DIR)\n");
    return 1;
  }
  // Rank 0 writes the model file when missing; the others wait for it.
  std::filesystem::path file;
  if (t.rank() == 0) file = bench::tinyLlamaShapedModel(args.out, args.type, args.layers, shared);
  for (int r = 1; r < t.size(); ++r) {
    if (t.rank() == 0) t.send(r, 9, "go", 2, 0, "start");
    if (t.rank() == r) t.recv(0, 9, 2, 0, "start");
  }
  if (t.rank() != 0) file = bench::tinyLlamaShapedModel(args.out, args.type, args.layers, shared);
  Session s;
  BackendChoice b;
  b.threads = args.threads;
  s.load(file, b);
  dist::PipelineOptions opt;
  opt.timeoutS = 600;
  const int d = s.model().spec.nEmbd;
  // One-way time of [rows, d] floats between rank 0 and 1: half the mean of 20 round trips
  // after a warm-up one.
  auto pingPong = [&](int rows) {
    if (t.size() < 2 || t.rank() > 1) return 0.0;
    std::vector<float> x(size_t(rows) * d, 1.0f);
    const size_t bytes = x.size() * sizeof(float);
    const int n = 20;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i <= n; ++i) {
      if (i == 1) t0 = std::chrono::steady_clock::now();
      if (t.rank() == 0) {
        t.send(1, 8, x.data(), bytes, 600, "ping");
        t.recv(1, 8, bytes, 600, "pong");
      } else {
        t.recv(0, 8, bytes, 600, "ping");
        t.send(0, 8, x.data(), bytes, 600, "pong");
      }
    }
    return since(t0) / 2 / n;
  };
  const double transfer = pingPong(args.tokens), transferRow = pingPong(1);
  if (t.rank() != 0) return dist::servePipeline(t, s.engine(), opt);

  dist::PipelineDriver driver(t, s.engine(), opt);
  std::vector<int32_t> ids(size_t(args.tokens)), pos(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = static_cast<int32_t>(1 + (i * 7919) % 30000);
    pos[i] = static_cast<int32_t>(i);
  }
  double prefill = 1e30, key = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ids[0] = static_cast<int32_t>(1 + r);  // a new first token: no stage reuses anything
    auto tr = driver.run(ids, pos, {}, {});
    prefill = std::min(prefill, since(t0));
    if (tr->reusedRows != 0) std::fprintf(stderr, "unexpected reuse %d\n", tr->reusedRows);
    ids.back() = static_cast<int32_t>(100 + r);  // a keystroke at the end of the prompt
    t0 = std::chrono::steady_clock::now();
    tr = driver.run(ids, pos, {}, {});
    key = std::min(key, since(t0));
    if (tr->reusedRows != args.tokens - 1)
      std::fprintf(stderr, "keystroke reused %d rows\n", tr->reusedRows);
  }
  std::printf(
      "bench_pipeline: np %d, %d layers, T %d, %s, %d thread(s)/rank: full-capture prefill %.3f "
      "s, keystroke %.4f s, [T, %d] f32 transfer %.3f ms (%.1f MB), one row %.1f us, best of "
      "%d\n",
      t.size(), args.layers, args.tokens, args.type.c_str(), args.threads, prefill, key, d,
      transfer * 1e3, double(args.tokens) * d * 4 / 1e6, transferRow * 1e6, reps);
  return 0;
}
