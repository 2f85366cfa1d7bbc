// The headless LayerLens server (`layerlens-cli serve`): binds the gRPC service to an address,
// refuses to listen beyond loopback without a token, and serves TLS when given a certificate.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "remote/limits.h"
#include "runtime/api/session.h"

namespace ll::remote {

struct ServerSession;
// Called when a client opens a session, after its model is attached (model: the client's path);
// what it returns lives as long as the session. Throwing refuses the session.
using SessionAttach = std::function<std::shared_ptr<void>(
    ServerSession& s, const std::string& model, const rt::BackendChoice& backend)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:7433";  // HOST:PORT; port 0 picks a free one
  std::filesystem::path modelsDir = ".";
  std::string token;                  // shared secret ("" = none: loopback only)
  std::string tlsCertPem, tlsKeyPem;  // both or neither
  int64_t maxMessageBytes = kDefaultMaxMessageBytes;
  SessionAttach attachSession;  // optional
  // The share of each session's model this process binds (rank 0 of `mpirun ... serve`: its
  // stage and what the analyses read of the others'); default: all of it.
  rt::StageShare share = {};
};

// "HOST:PORT" split (IPv6 hosts in brackets); throws std::invalid_argument naming the problem.
std::pair<std::string, int> splitHostPort(const std::string& address);
bool isLoopbackHost(const std::string& host);
// The contents of a token or PEM file; a token file must hold a non-empty first line.
std::string readTokenFile(const std::filesystem::path& path);
std::string readTextFile(const std::filesystem::path& path);

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Binds and starts serving; returns "HOST:PORT" with the port actually bound. Throws
  // std::invalid_argument for options that are not allowed, std::runtime_error when binding fails.
  std::string start();
  void wait();
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace ll::remote
