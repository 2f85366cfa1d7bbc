// `layerlens-cli serve`: the headless LayerLens server. Serves the Session API over gRPC to
// `--server` clients (remote/): models from --models only, a token required beyond loopback, TLS
// with a certificate. Prints `listening on HOST:PORT` once it accepts connections; stops on
// SIGINT / SIGTERM. Under `mpirun -np N`, rank 0 serves and every session's passes run over the
// ranks' stages (cli_split.h); the others compute. A rank that dies or hangs fails the pass that
// found it (the client gets the error naming it), then the server stops and the job ends.
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "cli_split.h"
#include "command.h"

#ifdef LAYERLENS_HAVE_REMOTE
#include <pthread.h>
#include <unistd.h>

#include "remote/model_store.h"
#include "remote/server.h"
#include "remote/server_session.h"
#include "runtime/dist/wire.h"
#endif

namespace ll::cli {
namespace {

struct ServeOpts {
  std::string listen = "127.0.0.1:7433", tokenFile, models = ".", tlsCert, tlsKey;
  int64_t maxMessageBytes = 16 << 20;
  double rankTimeout = 60.0;
};

#ifdef LAYERLENS_HAVE_REMOTE
// What the other ranks need to open a session's stage: the model (relative to --models) and the
// backend the client chose (the same threads and math give the same bits as one process).
std::string openSpec(const std::string& model, const rt::BackendChoice& b) {
  rt::dist::WireWriter w;
  w.putString(model);
  w.putString(b.name);
  w.put<int32_t>(b.threads);
  w.putString(b.cpuMath);
  return std::string(w.bytes().begin(), w.bytes().end());
}

// Ranks > 0: every session rank 0 opens gets an engine of its own on the shared model.
int serveStages(const ServeOpts& o, SplitRun& split) {
  auto store = std::make_shared<remote::ModelStore>(o.models);
  const rt::StageShare share = split.share(true);
  return split.serveSessions(
      [store, share](const std::string& spec) {
        rt::dist::WireReader r(spec.data(), spec.size());
        const std::string model = r.getString();
        rt::BackendChoice b;
        b.name = r.getString();
        b.threads = r.get<int32_t>();
        b.cpuMath = r.getString();
        b.share = share;  // this rank's layers only
        auto s = std::make_shared<rt::Session>();
        s->attach(store->get(model), b);
        return std::shared_ptr<rt::Engine>(s, &s->engine());  // keeps the session alive
      },
      remote::kMaxSessions);
}

// split: the ranks of `mpirun -np N` (null in one process); stop: SIGINT and SIGTERM, blocked in
// every thread (serveCommand).
int serve(const ServeOpts& o, SplitRun* split, const sigset_t& stop) {
  if (split && !split->isDriver()) {
    // The computing ranks keep the default action (a signal from mpirun ends them at once); only
    // this thread takes it, MPI's threads keep it blocked.
    pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);
    return serveStages(o, *split);
  }
  remote::ServerOptions so;
  so.listen = o.listen;
  so.modelsDir = o.models;
  if (!o.tokenFile.empty()) so.token = remote::readTokenFile(o.tokenFile);
  if (!o.tlsCert.empty()) so.tlsCertPem = remote::readTextFile(o.tlsCert);
  if (!o.tlsKey.empty()) so.tlsKeyPem = remote::readTextFile(o.tlsKey);
  so.maxMessageBytes = o.maxMessageBytes;
  if (split) {
    so.share = split->share(true);  // its stage and what the analyses read of the others'
    so.attachSession = [split](remote::ServerSession& s, const std::string& model,
                               const rt::BackendChoice& b) {
      std::vector<rt::dist::StageRange> stages;
      auto handle = split->attachSession(s.session, openSpec(model, b), &stages);
      for (const auto& st : stages) s.stageFirst.push_back(st.first);
      return handle;
    };
  }
  {
    remote::Server server(so);
    std::thread waiter([&] {
      int sig = 0;
      sigwait(&stop, &sig);
      server.shutdown();
    });
    // A rank that died or hangs: the pass that found it returns its error to the client, then the
    // server stops as on SIGTERM (no later request waits on the broken pipeline). The signal goes
    // to the waiter alone: MPI's own threads, started before the mask, would take a process-wide
    // one and end the process before the client has its answer.
    if (split)
      split->onBroken(
          [&waiter](const std::string&) { pthread_kill(waiter.native_handle(), SIGTERM); });
    try {
      const std::string bound = server.start();
      std::printf("listening on %s\n", bound.c_str());
      std::fflush(stdout);
    } catch (...) {
      pthread_kill(waiter.native_handle(), SIGTERM);
      waiter.join();
      throw;
    }
    server.wait();
    waiter.join();
  }  // the sessions close here (on every rank)
  if (split) {
    const std::string why = split->broken();
    if (!why.empty()) split->fail(why);  // ends every rank, the hung one included
    split->stopServing();
  }
  return 0;
}

int serveCommand(const ServeOpts& o) {
  // Signals go to a thread that waits for them (serve()): it shuts the server down cleanly
  // instead of the default action killing the process mid-call. Blocked here, before MPI_Init and
  // gRPC start their threads, so every thread inherits the mask: a thread of Open MPI's that
  // did not would take a SIGTERM sent to rank 0 and end it on the spot, leaving the other ranks
  // waiting and mpirun reporting a failed job. Under mpirun, rank 0's clean stop then closes the
  // sessions, tells the other ranks to leave their serve loops, finalises MPI and exits 0.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto split = SplitRun::start(o.rankTimeout);
  if (!split) return serve(o, nullptr, stop);
  try {
    return serve(o, split.get(), stop);
  } catch (const std::exception& e) {
    split->fail(e.what());  // ends every rank: none is left waiting for this one
  }
  return 1;  // not reached: fail() does not return
}
#else
int serveCommand(const ServeOpts&) {
  throw std::runtime_error(
      "serve: this layerlens-cli was built without gRPC (install libgrpc++-dev and "
      "protobuf-compiler-grpc and rebuild)");
}
#endif

const RegisterCommand kServe{Command{
    "serve", "serve models to remote clients over gRPC (--server HOST:PORT on other commands)",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<ServeOpts>();
      sub.add_option("--listen", o->listen, "HOST:PORT to listen on (default 127.0.0.1:7433)");
      sub.add_option("--token-file", o->tokenFile,
                     "file holding the shared token every call must carry (required off "
                     "loopback)");
      sub.add_option("--models", o->models, "folder the served model paths are relative to");
      auto* cert = sub.add_option("--tls-cert", o->tlsCert, "TLS certificate chain (PEM)");
      auto* key = sub.add_option("--tls-key", o->tlsKey, "TLS private key (PEM)");
      cert->needs(key);
      key->needs(cert);
      sub.add_option("--max-message-bytes", o->maxMessageBytes,
                     "largest message sent or accepted (default 16 MiB)");
      sub.add_option("--rank-timeout", o->rankTimeout,
                     "under mpirun: seconds to wait for another rank before reporting it dead or "
                     "hung (default 60)");
      return [o] { return serveCommand(*o); };
    }}};

}  // namespace
}  // namespace ll::cli
