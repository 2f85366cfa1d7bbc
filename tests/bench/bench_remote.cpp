// Per-keystroke latency of a remote session over loopback against the same work in process, on the
// TinyLlama-1.1B-shaped model (bench_common.h). A keystroke appends a word (one token) to the
// prompt and re-runs it with full capture (prefix reuse computes the new row only); the GUI then
// shows the last row's logits and the last 32 rows of one attention map. Remote: an in-process
// remote::Server on 127.0.0.1 and a RemoteSession (gRPC over TCP loopback); the model is loaded
// once by the server. Prints the median and worst keystroke of each. Not part of ctest.
//
// usage: bench_remote [--threads 2] [--tokens 512] [--layers 22] [--type Q8_0|F16] [--out DIR]
//                     [--keys 8]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "fixture_writer.h"
#include "lltest.h"
#include "remote/remote_session.h"
#include "remote/server.h"
#include "runtime/api/session.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::time_point a) {
  return std::chrono::duration<double, std::milli>(Clock::now() - a).count();
}

void report(const char* what, std::vector<double> t) {
  std::sort(t.begin(), t.end());
  std::printf("  %-40s median %8.1f ms   worst %8.1f ms   (%zu keystrokes)\n", what,
              t[t.size() / 2], t.back(), t.size());
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parseArgs(argc, argv, 512, 22);
  const int keys = args.extra.count("--keys") ? std::atoi(args.extra.at("--keys").c_str()) : 8;
  const fs::path shared = lltest::sharedDir();
  if (shared.empty() || args.tokens < 2 || keys < 1) {
    std::fprintf(stderr, "bench_remote: needs LAYERLENS_SHARED_DIR, --tokens >= 2, --keys >= 1\n");
    return 1;
  }
  const fs::path file = bench::tinyLlamaShapedModel(args.out, args.type, args.layers, shared);
  std::printf("bench_remote: TinyLlama-1.1B shape, %d layers, %s, T = %d, %d threads\n",
              args.layers, args.type.c_str(), args.tokens, args.threads);
  std::mt19937 rng(5);
  std::vector<int32_t> ids = {1};
  auto word = [&] {
    return 3 + static_cast<int32_t>(rng() % (lltest::TinyLlamaShape::kVocab - 3));
  };
  while (static_cast<int>(ids.size()) < args.tokens) ids.push_back(word());
  std::vector<int32_t> typed;
  for (int k = 0; k <= keys; ++k) typed.push_back(word());
  const int layer = args.layers - 1;

  // In process, twice: the client drops each trace (the next keystroke builds its trace in the
  // old one's buffers), or holds it until the next one arrives, as the GUI does and as the server
  // does for its clients (it keeps their last traces): the update then allocates and copies the
  // kept rows. The second is the one to set beside loopback.
  std::vector<double> localDrop, local, localShow;
  for (const bool hold : {false, true}) {
    ll::rt::Session s;
    s.load(file, {"cpu", args.threads});
    auto prompt = ids;
    s.setPromptIds(prompt);
    std::shared_ptr<const ll::rt::Trace> shown = s.run();
    if (!hold) shown.reset();
    for (int k = 0; k < keys; ++k) {
      prompt.push_back(typed[size_t(k)]);
      const auto t0 = Clock::now();
      s.setPromptIds(prompt);
      auto tr = s.run();
      (hold ? local : localDrop).push_back(ms(t0));
      volatile float sink = tr->logitsRow(tr->nTokens - 1)[0];
      const int T = tr->nTokens;
      auto map = s.attentionMap(*tr, layer, 0, std::max(0, T - 32));
      sink = map.back();
      (void)sink;
      if (hold) {
        localShow.push_back(ms(t0));
        shown = tr;
      }
    }
  }
  // Over loopback.
  std::vector<double> remote, remoteShow;
  {
    ll::remote::ServerOptions so;
    so.listen = "127.0.0.1:0";
    so.modelsDir = file.parent_path();
    ll::remote::Server server(so);
    const std::string address = server.start();
    ll::remote::ClientOptions co;
    co.address = address;
    ll::remote::RemoteSession r(co);
    r.open(file.filename().string(), "cpu", args.threads);
    auto prompt = ids;
    r.setPromptIds(prompt);
    r.run();
    for (int k = 0; k < keys; ++k) {
      prompt.push_back(typed[size_t(k)]);
      const auto t0 = Clock::now();
      r.setPromptIds(prompt);
      auto tr = r.run();
      remote.push_back(ms(t0));
      const int T = tr.trace->nTokens;
      volatile float last = r.logitRows(tr, T - 1, T)[0];
      (void)last;
      auto map = r.attentionMap(tr, layer, 0, std::max(0, T - 32));
      volatile float sink = map.back();
      (void)sink;
      remoteShow.push_back(ms(t0));
    }
    server.shutdown();
  }
  report("in process: run, trace dropped", localDrop);
  report("in process: run, trace held", local);
  report("loopback:   run", remote);
  report("in process: run + logits + map, held", localShow);
  report("loopback:   run + logits + map", remoteShow);
  std::sort(local.begin(), local.end());
  std::sort(remote.begin(), remote.end());
  std::printf("  loopback overhead per keystroke (median run, against the held trace): %.1f ms\n",
              remote[remote.size() / 2] - local[local.size() / 2]);
  return 0;
}
