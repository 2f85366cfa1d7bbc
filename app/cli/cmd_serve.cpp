// `layerlens-cli serve`: the headless LayerLens server. Serves the Session API over gRPC to
// `--server` clients (remote/): models from --models only, a token required beyond loopback, TLS
// with a certificate. Prints `listening on HOST:PORT` once it accepts connections; stops on
// SIGINT / SIGTERM.
#include <csignal>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "command.h"

#ifdef LAYERLENS_HAVE_REMOTE
#include <pthread.h>

#include "remote/server.h"
#endif

namespace ll::cli {
namespace {

struct ServeOpts {
  std::string listen = "127.0.0.1:7433", tokenFile, models = ".", tlsCert, tlsKey;
  int64_t maxMessageBytes = 16 << 20;
};

#ifdef LAYERLENS_HAVE_REMOTE
int serveCommand(const ServeOpts& o) {
  remote::ServerOptions so;
  so.listen = o.listen;
  so.modelsDir = o.models;
  if (!o.tokenFile.empty()) so.token = remote::readTokenFile(o.tokenFile);
  if (!o.tlsCert.empty()) so.tlsCertPem = remote::readTextFile(o.tlsCert);
  if (!o.tlsKey.empty()) so.tlsKeyPem = remote::readTextFile(o.tlsKey);
  so.maxMessageBytes = o.maxMessageBytes;
  // Signals go to a thread that waits for them (blocked here before gRPC starts its threads, so
  // they inherit the mask): it shuts the server down cleanly instead of killing it mid-call.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  remote::Server server(so);
  const std::string bound = server.start();
  std::printf("listening on %s\n", bound.c_str());
  std::fflush(stdout);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    server.shutdown();
  });
  server.wait();
  waiter.join();
  return 0;
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
      return [o] { return serveCommand(*o); };
    }}};

}  // namespace
}  // namespace ll::cli
