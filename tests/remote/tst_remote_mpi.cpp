// `mpirun -np N layerlens-cli serve`: rank 0 serves the clients and every session's passes run
// over the ranks' stages. Its answers to `--server` clients (run --dump, generate, lens,
// attention, an analysis) equal a local run byte for byte at -np 2 and 3, dense and MoE; two
// clients with different prompts interleaved each get their own session's results; a rank that
// hangs gives the client an error naming it and the job ends; a rank killed gives the client a
// clear error promptly, never a hang; a newer request cancels a running pass between layers;
// older traces read after newer passes (their captures kept on the ranks) equal a local session's.
// Skips without gRPC, without mpirun or without MPI in the CLI.
#include "lltest.h"

#ifndef LAYERLENS_HAVE_REMOTE
LL_TEST(remoteMpiTests) {
  QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
}
#else
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "remote_test.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace {

using namespace remotetest;

// mpirun as tst_cli_mpi starts it: oversubscribed, shared memory and loopback only, as root when
// the tests run as root; env: extra VAR=VALUE settings for every rank.
std::vector<std::string> mpirun(int np, const std::vector<std::string>& env = {}) {
  int rc = -1;
  const std::string where = clitest::runCapture("command -v mpirun 2>/dev/null", &rc);
  if (rc != 0 || where.empty()) QSKIP("mpirun not found (Debian: openmpi-bin)");
  std::vector<std::string> l = {"env", "OMPI_MCA_btl=self,vader",
                                "OMPI_MCA_btl_vader_single_copy_mechanism=none",
                                "OMPI_MCA_rmaps_base_oversubscribe=1"};
  l.insert(l.end(), env.begin(), env.end());
  l.insert(l.end(), {"mpirun", "--oversubscribe"});
  if (getuid() == 0) l.push_back("--allow-run-as-root");
  l.insert(l.end(), {"-np", std::to_string(np)});
  return l;
}

// Without MPI in the CLI every rank refuses at start (and no address would come): skip, with why.
void requireMpiCli() {
  std::string cmd;
  for (const auto& a : mpirun(2)) cmd += a + " ";
  int code = -1;
  const std::string out =
      run("timeout 60 " + cmd + cli().string() + " generate /nonexistent.gguf --text x", &code);
  if (out.find("built without MPI") != std::string::npos)
    QSKIP("layerlens-cli was built without MPI (LAYERLENS_MPI, libopenmpi-dev)");
}

std::unique_ptr<ServerProcess> mpiServer(int np, const std::vector<std::string>& extra = {},
                                         const std::vector<std::string>& env = {}) {
  requireMpiCli();
  std::vector<std::string> args = {"--models", models().string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<ServerProcess>(cli(), args, mpirun(np, env));
}

// A --dump of `args` locally and from the split server, file by file.
void sameDump(const ServerProcess& srv, const std::string& args) {
  const fs::path tmp = fs::temp_directory_path() / ("ll-rmpi-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  int code = -1;
  const std::string c = cli().string();
  std::string out = run(
      "cd " + models().string() + " && " + c + " " + args + " --dump " + (tmp / "local").string(),
      &code);
  QVERIFY2(code == 0, out);
  out = run(c + " " + args + " --dump " + (tmp / "remote").string() + " --server " + srv.address(),
            &code);
  QVERIFY2(code == 0, out);
  sameFolders(tmp / "local", tmp / "remote");
  // A dump has one file per captured array: a handful would mean the split run captured little.
  QVERIFY(std::distance(fs::directory_iterator(tmp / "local"), fs::directory_iterator()) > 10);
  fs::remove_all(tmp);
}

void splitServerParity(const std::string& model, int np, const std::string& edits) {
  auto srv = mpiServer(np);
  const std::string prompt = " --threads 1 --text 'Once upon a time, there was a little'";
  const std::string m = model + prompt;
  sameDump(*srv, "run " + m + edits);
  sameOutput(*srv, "generate " + m + edits + " --greedy --n 24");
  sameOutput(*srv, "generate " + m + " --seed 7 --temp 0.9 --top-k 20 --n 24");
  sameOutput(*srv, "lens " + m + " --token 42");
  sameOutput(*srv, "attention " + m);
  sameOutput(*srv, "attention " + model + " --threads 1 --induction 12 --seed 3");
  sameOutput(*srv, "select " + m + " --method snapkv --k 4 --answer 4");
}

}  // namespace

LL_TEST(splitServerEqualsLocalDense) {
  splitServerParity("stories260K.gguf", 2, "");
  splitServerParity("stories260K.gguf", 3, "");
}

LL_TEST(splitServerEqualsLocalMoe) {
  splitServerParity("stories260K-moe4.gguf", 2, " --ban-expert 1:2 --bias-expert 4:1:2.5");
}

// Two clients take turns on the ranks with different prompts (each session keeps its own KV
// cache and prefix on every rank): each gets what a local session gives.
LL_TEST(twoClientsInterleaved) {
  auto srv = mpiServer(2);
  std::string errors[2];
  auto client = [&](int who) {
    try {
      ll::remote::RemoteSession r(remotetest::client(*srv));
      r.open("stories260K.gguf", "cpu", 1);
      ll::rt::Session l;
      l.load(models() / "stories260K.gguf", ll::rt::BackendChoice{"cpu", 1});
      std::string text = who ? "The sun was hot and the sky was" : "Tom had a dog named";
      for (int step = 0; step < 6; ++step) {
        text += who ? " blue" : " Max";  // a growing prompt: prefix reuse on every stage
        r.setPrompt(text);
        l.setPrompt(text);
        auto rt = r.run();
        r.fetch(rt, ll::remote::kPartLogits | ll::remote::kPartResid);
        auto lt = l.run();
        if (!(rt.trace->logits == lt->logits.host()) ||
            !(rt.trace->layers[4].resid == lt->layers[4].resid.host()) ||
            !(rt.trace->layers[1].resid == lt->layers[1].resid.host()))
          throw std::runtime_error("client " + std::to_string(who) + " step " +
                                   std::to_string(step) + " differs from a local session");
        ll::rt::GenerateRequest g;
        g.maxTokens = 6;
        g.stopAtEos = false;
        if (r.generate(g).ids != l.generate(g).ids)
          throw std::runtime_error("client " + std::to_string(who) + " generation differs");
      }
    } catch (const std::exception& e) {
      errors[who] = e.what();
    }
  };
  std::thread a(client, 0), b(client, 1);
  a.join();
  b.join();
  QVERIFY2(errors[0].empty(), errors[0]);
  QVERIFY2(errors[1].empty(), errors[1]);
}

// A split server keeps each pass's captures on the rank that made them; a client reading an older
// trace after newer passes (the server keeps four per session) gets that pass's arrays from the
// ranks that still keep it, equal to a local session's bit for bit, newest first then oldest.
LL_TEST(olderTracesReadAfterNewerPasses) {
  auto srv = mpiServer(3);
  ll::remote::RemoteSession r(remotetest::client(*srv));
  r.open("stories260K-moe4.gguf", "cpu", 1);
  ll::rt::Session l;
  l.load(models() / "stories260K-moe4.gguf", ll::rt::BackendChoice{"cpu", 1});
  std::vector<ll::remote::RemoteTrace> remote;
  std::vector<std::shared_ptr<const ll::rt::Trace> > local;
  std::string text = "Tom had a dog named";
  for (int step = 0; step < 4; ++step) {
    text += " Max";  // prefix reuse on every stage
    r.setPrompt(text);
    l.setPrompt(text);
    remote.push_back(r.run());
    local.push_back(l.run());
  }
  for (int i : {3, 0, 2, 1}) {
    const auto& rt = remote[size_t(i)];
    r.fetch(rt, ll::remote::kPartAll);
    const ll::rt::Trace &a = *rt.trace, &b = *local[size_t(i)];
    const std::string what = "trace " + std::to_string(i);
    QVERIFY2(a.logits == b.logits.host(), what + " logits");
    for (int layer = 0; layer < b.nLayer; ++layer) {
      const auto &x = a.layers[size_t(layer)], &y = b.layers[size_t(layer)];
      QVERIFY2(x.resid == y.resid.host() && x.residMid == y.residMid.host() && x.k == y.k.host() &&
                   x.colSum == y.colSum && x.routerProbs == y.routerProbs,
               what + " layer " + std::to_string(layer));
      QVERIFY2(r.attentionMap(rt, layer, 1) == l.attentionMap(b, layer, 1),
               what + " map " + std::to_string(layer));
    }
  }
}

// select --method gemfilter stops its pass after the selection layer: over the split server the
// stages up to that layer run and the later ones only trim their caches, and the output equals
// the local CLI's byte for byte, for a selection layer on every stage. --answer continues in the
// same server session after the early-exit pass (prefix reuse over the trimmed caches), and a
// normal run afterwards still equals local.
LL_TEST(earlyExitOverSplitServer) {
  for (int np : {2, 3}) {
    auto srv = mpiServer(np);
    const std::string m =
        "stories260K.gguf --threads 1 --text 'Once upon a time, there was a little'";
    for (int layer : {0, 2, 4})
      sameOutput(*srv, "select " + m + " --method gemfilter --k 4 --answer 4 --layer " +
                           std::to_string(layer));
    sameOutput(*srv,
               "select stories260K-moe4.gguf --threads 1 --text 'Once upon a time, there "
               "was a little' --method gemfilter --k 5 --answer 3 --layer 1");
    sameOutput(*srv, "generate " + m + " --greedy --n 8");
  }
}

// routing's second prompt (--compare-text) runs through the pipeline as the first does (rank 0
// binds only its stage's weights, so it cannot run it alone).
LL_TEST(routingCompareOverSplitServer) {
  auto srv = mpiServer(2);
  sameOutput(*srv,
             "routing stories260K-moe4.gguf --threads 1 --text 'Once upon a time, there was a "
             "little' --compare-text 'The little dog ran to the park' --ban-expert 1:2");
}

// A newer request on a split server's session cancels the running pass between layers on the
// rank running them (LAYERLENS_TEST_RANK_FAULT=slow: each layer of the later ranks takes 0.5 s
// more): the old run ends CANCELLED within a second of the newer request, where it waited for
// the whole pass before (over a second more); the pipeline stays up, and the session's next run
// (which reuses the rows the cancelled pass kept) equals a local session that was cancelled the
// same way, bit for bit.
void newerRequestCancelsSplitPass(int np, const std::string& slow, int layersBeforeCancel) {
  auto srv = mpiServer(np, {}, {"LAYERLENS_TEST_RANK_FAULT=" + slow});
  ll::remote::RemoteSession r(remotetest::client(*srv));
  r.open("stories260K.gguf", "cpu", 1);
  ll::rt::Session l;
  l.load(models() / "stories260K.gguf", ll::rt::BackendChoice{"cpu", 1});
  const std::string base = "Once upon a time there was a little girl named Lily";
  const std::string edited = base + " who loved to play outside";
  r.setPrompt(base);
  l.setPrompt(base);
  auto rp = r.run();  // held, as the GUI holds its last trace
  auto lp = l.run();
  r.setPrompt(edited);
  std::atomic<int> seen{0};
  std::string outcome;
  std::chrono::steady_clock::time_point ended;
  std::thread old([&] {
    try {
      r.run({}, [&](int done, int) {
        seen = std::max(seen.load(), done);
        return true;
      });
      outcome = "completed";
    } catch (const ll::remote::RemoteError& e) {
      outcome = e.code == int(grpc::StatusCode::CANCELLED) ? "cancelled" : e.what();
    } catch (const std::exception& e) {
      outcome = e.what();
    }
    ended = std::chrono::steady_clock::now();
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen < layersBeforeCancel && outcome.empty() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int at = seen;
  const auto t0 = std::chrono::steady_clock::now();
  r.setPrompt(base);  // the newer request on the session
  old.join();
  const double s = std::chrono::duration<double>(ended - t0).count();
  QVERIFY2(at >= layersBeforeCancel, "no progress from the later ranks (saw " + std::to_string(at) +
                                         " layers, " + outcome + ")");
  QVERIFY2(outcome == "cancelled", outcome);
  QVERIFY2(s < 1.0, "the old run ended " + std::to_string(s) + " s after the newer request");
  // Locally: the edited prompt's pass cancelled after a layer, then the base prompt again.
  l.setPrompt(edited);
  bool cancelled = false;
  try {
    l.run({}, [](int, int) { return false; });
  } catch (const ll::rt::Cancelled&) {
    cancelled = true;
  }
  QVERIFY(cancelled);
  l.setPrompt(base);
  auto rb = r.run();
  r.fetch(rb, ll::remote::kPartLogits | ll::remote::kPartResid);
  auto lb = l.run();
  QCOMPARE(rb.trace->reusedRows, lb->reusedRows);
  QVERIFY2(lb->reusedRows > 0, "nothing reused after the cancel");
  QVERIFY(rb.trace->logits == lb->logits.host());
  for (int layer = 0; layer < lb->nLayer; ++layer)
    QVERIFY2(rb.trace->layers[size_t(layer)].resid == lb->layers[size_t(layer)].resid.host(),
             "layer " + std::to_string(layer));
  // The pipeline is up: the edited prompt runs to the end and equals local too.
  r.setPrompt(edited);
  l.setPrompt(edited);
  auto re = r.run();
  r.fetch(re, ll::remote::kPartLogits);
  QVERIFY(re.trace->logits == l.run()->logits.host());
}

LL_TEST(newerRequestCancelsSplitPassTwoRanks) {
  newerRequestCancelsSplitPass(2, "slow:1:500", 3);  // rank 1: layers 2-4
}

LL_TEST(newerRequestCancelsSplitPassThreeRanks) {
  newerRequestCancelsSplitPass(3, "slow:1:500,slow:2:500", 2);  // layers 1-2 and 3-4
}

// Rank r's pid: mpirun's child whose environment names that rank (-1: none).
pid_t rankOf(pid_t launcher, int rank) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string pid, comm, state;
    pid_t ppid = -1;
    stat >> pid >> comm >> state >> ppid;
    if (ppid != launcher) continue;
    std::ifstream env(e.path() / "environ");
    const std::string all((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    if (all.find("OMPI_COMM_WORLD_RANK=" + std::to_string(rank) + '\0') != std::string::npos)
      return std::stoi(name);
  }
  return -1;
}

// SIGTERM to rank 0 of `mpirun -np 2 serve` (a client session open, a pass done): it stops
// serving, tells rank 1 to leave its serve loop, finalises MPI and exits 0, so mpirun ends with
// 0 within seconds and no rank is left behind.
LL_TEST(sigtermStopsRankZeroCleanly) {
  auto srv = mpiServer(2);
  ll::remote::RemoteSession r(remotetest::client(*srv));
  r.open("stories260K.gguf", "cpu", 1);
  r.setPrompt("Once upon a time");
  auto tr = r.run();
  r.fetch(tr, ll::remote::kPartLogits);
  QVERIFY(!tr.trace->logits.empty());
  const pid_t rank0 = rankOf(srv->pid(), 0), rank1 = rankOf(srv->pid(), 1);
  QVERIFY2(rank0 > 0 && rank1 > 0, "the ranks are not among mpirun's children");
  const auto t0 = std::chrono::steady_clock::now();
  QCOMPARE(::kill(rank0, SIGTERM), 0);
  const int status = srv->waitExit(20);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  QVERIFY2(status != -1, "mpirun still running 20 s after SIGTERM to rank 0");
  QVERIFY2(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "mpirun ended with status " + std::to_string(status));
  QVERIFY2(s < 10, "took " + std::to_string(s) + " s");
  QVERIFY2(::kill(rank0, 0) != 0 && ::kill(rank1, 0) != 0, "a rank is still alive");
}

// Rank 1 stops answering: the client's run fails with an error naming it after --rank-timeout,
// and the server ends the job instead of waiting on the broken pipeline.
LL_TEST(hungRankGivesClientANamedError) {
  auto srv = mpiServer(3, {"--rank-timeout", "3"}, {"LAYERLENS_TEST_RANK_FAULT=hang:1"});
  int code = -1;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string out =
      run("timeout 60 " + cli().string() +
              " run stories260K.gguf --text 'Once upon a time' --server " + srv->address(),
          &code);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  QVERIFY2(code != 0 && code != 124, out);
  // Rank 0 notices while sending to it or while waiting for its result, whichever comes first.
  QVERIFY2(out.find("internal error: rank 1 (layers 1-2): ") != std::string::npos, out);
  QVERIFY2(out.find("within 3 s") != std::string::npos, out);
  QVERIFY2(out.find("died or hangs") != std::string::npos, out);
  QVERIFY2(s < 30, "took " + std::to_string(s) + " s");
  const int status = srv->waitExit(30);
  QVERIFY2(status != -1, "the server did not end after the pipeline broke");
}

// Rank 1 is killed when the first pass reaches it: the client gets an error promptly (Open MPI
// ends the job when a rank dies), and the server is gone.
LL_TEST(killedRankGivesClientAnError) {
  auto srv = mpiServer(2, {"--rank-timeout", "5"}, {"LAYERLENS_TEST_RANK_FAULT=kill:1"});
  int code = -1;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string out =
      run("timeout 60 " + cli().string() +
              " run stories260K.gguf --text 'Once upon a time' --server " + srv->address(),
          &code);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  QVERIFY2(code != 0 && code != 124, out);
  QVERIFY2(out.find("error") != std::string::npos, out);
  QVERIFY2(s < 30, "took " + std::to_string(s) + " s");
  QVERIFY2(srv->waitExit(30) != -1, "the server did not end after a rank died");
}

#endif

LL_TEST_MAIN("tst_remote_mpi")
