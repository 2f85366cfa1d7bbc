// What the remote tests share: the built CLI and ../shared/models (skipping without them), shell
// runs with stderr merged, RemoteSession options for a test server, and a raw client on the
// generated stub to send what RemoteSession never would.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "layerlens.grpc.pb.h"
#include "parity/cli_process.h"
#include "remote/remote_session.h"
#include "server_process.h"

namespace remotetest {

namespace fs = std::filesystem;
namespace pb = ::layerlens::remote::v1;

inline fs::path cli() {
  const auto p = clitest::cliPath();
  if (p.empty()) QSKIP("layerlens-cli not built next to the tests");
  return p;
}

inline fs::path models() {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("../shared/models not found");
  return shared / "models";
}

inline std::string run(const std::string& cmd, int* code) {
  int rc = -1;
  const std::string out = clitest::runCapture(cmd + " 2>&1", &rc);
  *code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

inline std::string readFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Options of a RemoteSession on a test server (a deadline well under the test's timeout).
inline ll::remote::ClientOptions client(const ServerProcess& srv, const std::string& token = "") {
  ll::remote::ClientOptions o;
  o.address = srv.address();
  o.token = token;
  o.timeoutMs = 60000;
  return o;
}

// A raw client on the generated stub, to send what RemoteSession never would.
struct Raw {
  explicit Raw(const std::string& address, const std::string& token = "")
      : stub(pb::LayerLens::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))),
        token(token) {}
  void prepare(grpc::ClientContext& ctx, int seconds = 30) const {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  }
  grpc::Status open(const std::string& model, std::string* id) {
    grpc::ClientContext ctx;
    prepare(ctx);
    pb::OpenSessionRequest req;
    req.set_model(model);
    pb::OpenSessionReply rep;
    auto st = stub->OpenSession(&ctx, req, &rep);
    if (id) *id = rep.session_id();
    return st;
  }
  std::unique_ptr<pb::LayerLens::Stub> stub;
  std::string token;
};

inline void expectInvalid(const grpc::Status& st, const std::string& names) {
  QVERIFY2(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT,
           std::to_string(st.error_code()) + " " + st.error_message());
  QVERIFY2(st.error_message().find(names) != std::string::npos, st.error_message());
}

// Every file of two folders (and their subfolders), byte for byte.
inline void sameFolders(const fs::path& a, const fs::path& b) {
  size_t n = 0, m = 0;
  for (const auto& e : fs::recursive_directory_iterator(a)) {
    if (!e.is_regular_file()) continue;
    const auto other = b / fs::relative(e.path(), a);
    QVERIFY2(fs::is_regular_file(other), other.string());
    QVERIFY2(readFile(e.path()) == readFile(other), e.path().filename().string());
    ++n;
  }
  for (const auto& e : fs::recursive_directory_iterator(b)) m += e.is_regular_file() ? 1 : 0;
  QCOMPARE(n, m);
  QVERIFY(n > 0);
}

// `args` run locally (in the models folder, so paths print alike) and with --server: same output.
inline void sameOutput(const ServerProcess& srv, const std::string& args) {
  int lc = -1, rc = -1;
  const std::string c = cli().string();
  const std::string local = run("cd " + models().string() + " && " + c + " " + args, &lc);
  const std::string remote = run(c + " " + args + " --server " + srv.address(), &rc);
  QVERIFY2(lc == 0, local);
  QCOMPARE(rc, 0);
  QVERIFY2(local == remote, args + "\nlocal:\n" + local + "\nremote:\n" + remote);
}

}  // namespace remotetest
