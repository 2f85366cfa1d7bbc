// Binding the remote service (see server.h): address and security checks, TLS, message limits and
// keepalive settings that let clients notice a dead connection.
#include "remote/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "remote/model_store.h"
#include "remote/service.h"

namespace ll::remote {

std::pair<std::string, int> splitHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    throw std::invalid_argument("address '" + address + "' is not HOST:PORT");
  std::string host = address.substr(0, colon);
  const std::string portText = address.substr(colon + 1);
  size_t used = 0;
  int port = -1;
  try {
    port = std::stoi(portText, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != portText.size() || port < 0 || port > 65535)
    throw std::invalid_argument("address '" + address + "': port '" + portText +
                                "' is not a number in 0..65535");
  if (host.front() == '[') {
    if (host.back() != ']') throw std::invalid_argument("address '" + address + "': bad IPv6 host");
    host = host.substr(1, host.size() - 2);
  }
  return {host, port};
}

bool isLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string readTextFile(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument("cannot read " + path.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string readTokenFile(const std::filesystem::path& path) {
  std::string t = readTextFile(path);
  t = t.substr(0, t.find('\n'));
  while (!t.empty() && (t.back() == '\r' || t.back() == ' ' || t.back() == '\t')) t.pop_back();
  if (t.empty()) throw std::invalid_argument(path.string() + ": the token file is empty");
  return t;
}

struct Server::Impl {
  ServerOptions options;
  std::unique_ptr<ModelStore> models;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
};

Server::Server(ServerOptions options) : m_impl(std::make_unique<Impl>()) {
  m_impl->options = std::move(options);
}

Server::~Server() {
  shutdown();
}

std::string Server::start() {
  const ServerOptions& o = m_impl->options;
  auto [host, port] = splitHostPort(o.listen);
  if (!isLoopbackHost(host) && o.token.empty())
    throw std::invalid_argument("listening on " + host +
                                " (not loopback) needs --token-file: unauthenticated calls "
                                "from the network are not allowed");
  if (o.tlsCertPem.empty() != o.tlsKeyPem.empty())
    throw std::invalid_argument("TLS needs both --tls-cert and --tls-key");
  if (o.maxMessageBytes < kMinMaxMessageBytes || o.maxMessageBytes > (int64_t(1) << 30))
    throw std::invalid_argument("the message limit must be in 64 KiB .. 1 GiB");
  m_impl->models = std::make_unique<ModelStore>(o.modelsDir);
  m_impl->service = std::make_unique<Service>(*m_impl->models, o.token, o.maxMessageBytes,
                                              o.attachSession, o.share);

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (!o.tlsCertPem.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({o.tlsKeyPem, o.tlsCertPem});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  grpc::ServerBuilder b;
  int bound = 0;
  const std::string hostPart = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  b.AddListeningPort(hostPart + ":" + std::to_string(port), creds, &bound);
  b.RegisterService(m_impl->service.get());
  b.SetMaxReceiveMessageSize(static_cast<int>(o.maxMessageBytes));
  b.SetMaxSendMessageSize(static_cast<int>(o.maxMessageBytes));
  // Clients ping idle connections to notice a dead server; accept their pings.
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  b.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  m_impl->server = b.BuildAndStart();
  if (!m_impl->server || bound == 0) throw std::runtime_error("cannot listen on " + o.listen);
  return hostPart + ":" + std::to_string(bound);
}

void Server::wait() {
  if (m_impl->server) m_impl->server->Wait();
}

void Server::shutdown() {
  // Calls still running (a long run, a stream) are cancelled after a grace second.
  if (m_impl->server)
    m_impl->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

}  // namespace ll::remote
