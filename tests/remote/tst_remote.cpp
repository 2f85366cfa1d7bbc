// The remote Session API end to end: a real `layerlens-cli serve` on loopback. Remote output equals
// local output bit for bit (CLI commands and RemoteSession reads, dense and MoE); a newer request
// cancels a running one; two clients run at once; tokens, indices, sizes and paths are checked;
// a server killed mid-stream gives the client an error, not a hang. Skips without gRPC.
#include "lltest.h"

#ifndef LAYERLENS_HAVE_REMOTE
LL_TEST(remoteTests) {
  QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
}
#else
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "layerlens.grpc.pb.h"
#include "parity/cli_process.h"
#include "remote/remote_session.h"
#include "runtime/api/session.h"
#include "server_process.h"

namespace {

namespace fs = std::filesystem;
namespace pb = ::layerlens::remote::v1;
using remotetest::ServerProcess;

fs::path cli() {
  const auto p = clitest::cliPath();
  if (p.empty()) QSKIP("layerlens-cli not built next to the tests");
  return p;
}

fs::path models() {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("../shared/models not found");
  return shared / "models";
}

std::string run(const std::string& cmd, int* code) {
  int rc = -1;
  const std::string out = clitest::runCapture(cmd + " 2>&1", &rc);
  *code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

std::string readFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Every file of two folders, byte for byte.
void sameFolders(const fs::path& a, const fs::path& b) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(a)) {
    const auto other = b / e.path().filename();
    QVERIFY2(fs::exists(other), other.string());
    QVERIFY2(readFile(e.path()) == readFile(other), e.path().filename().string());
    ++n;
  }
  QCOMPARE(n, size_t(std::distance(fs::directory_iterator(b), fs::directory_iterator())));
  QVERIFY(n > 0);
}

// `args` run locally (in the models folder, so paths print alike) and with --server: same output.
void sameOutput(const ServerProcess& srv, const std::string& args) {
  int lc = -1, rc = -1;
  const std::string c = cli().string();
  const std::string local = run("cd " + models().string() + " && " + c + " " + args, &lc);
  const std::string remote = run(c + " " + args + " --server " + srv.address(), &rc);
  QVERIFY2(lc == 0, local);
  QCOMPARE(rc, 0);
  QVERIFY2(local == remote, args + "\nlocal:\n" + local + "\nremote:\n" + remote);
}

void cliParity(const std::string& model) {
  ServerProcess srv(cli(), {"--models", models().string()});
  const std::string prompt = " --text 'Once upon a time, there was a little'";
  sameOutput(srv, "info " + model);
  sameOutput(srv, "tokenize " + model + prompt);
  sameOutput(srv, "generate " + model + prompt + " --greedy --n 24");
  sameOutput(srv, "generate " + model + prompt + " --seed 7 --temp 0.9 --top-k 20 --n 24");
  sameOutput(srv, "lens " + model + prompt + " --token 42");
  sameOutput(srv, "attention " + model + prompt);
  sameOutput(srv, "attention " + model + " --induction 12 --seed 3");
  // Dumps: logits, attention maps of every head, residuals, final norm, routing (MoE).
  const fs::path tmp = fs::temp_directory_path() / ("ll-remote-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  int code = -1;
  const std::string c = cli().string();
  const std::string dumps[] = {"run " + model + prompt, "lens " + model + prompt + " --token 42"};
  for (const auto& args : dumps) {
    fs::remove_all(tmp);
    std::string out = run(
        "cd " + models().string() + " && " + c + " " + args + " --dump " + (tmp / "local").string(),
        &code);
    QVERIFY2(code == 0, out);
    out =
        run(c + " " + args + " --dump " + (tmp / "remote").string() + " --server " + srv.address(),
            &code);
    QVERIFY2(code == 0, out);
    sameFolders(tmp / "local", tmp / "remote");
  }
  fs::remove_all(tmp);
}

LL_TEST(cliRemoteEqualsLocalDense) {
  cliParity("stories260K.gguf");
}
LL_TEST(cliRemoteEqualsLocalMoe) {
  cliParity("stories260K-moe4.gguf");
  ServerProcess srv(cli(), {"--models", models().string()});
  sameOutput(srv,
             "run stories260K-moe4.gguf --text 'Tom had a red ball' --ban-expert 1:2 "
             "--bias-expert 0:1:2.5");
}

// Commands that do not run remotely yet refuse --server instead of running locally.
LL_TEST(unsupportedCommandsRefuseServer) {
  int code = -1;
  const std::string out =
      run(cli().string() + " select " + (models() / "stories260K.gguf").string() +
              " --text hi --server 127.0.0.1:1",
          &code);
  QCOMPARE(code, 2);
  QVERIFY2(out.find("--server is not supported") != std::string::npos, out);
}

ll::remote::ClientOptions client(const ServerProcess& srv, const std::string& token = "") {
  ll::remote::ClientOptions o;
  o.address = srv.address();
  o.token = token;
  o.timeoutMs = 60000;
  return o;
}

// RemoteSession reads (every trace array, maps, lens, generation) equal rt::Session's, with
// interventions (expert ban, steering, knockout) on a MoE model.
LL_TEST(apiRemoteEqualsLocalWithInterventions) {
  ServerProcess srv(cli(), {"--models", models().string(), "--max-message-bytes", "65536"});
  ll::remote::RemoteSession r(client(srv));
  r.open("stories260K-moe4.gguf");
  ll::rt::Session l;
  l.load(models() / "stories260K-moe4.gguf");
  const std::string text = "Lily and Ben went to the park to play with a big red ball";
  QCOMPARE(r.setPrompt(text), (l.setPrompt(text), l.promptIds()));
  const auto& spec = l.model().spec;
  ll::rt::RunRequest req;
  req.interventions.router.push_back({1, 2, ll::rt::RouterEditKind::Ban, 0.0f});
  req.interventions.steering.push_back({2, 3.0f, 4, std::vector<float>(spec.nEmbd, 0.25f)});
  req.interventions.knockout = ll::rt::Knockout{{8, 9, 10}, {1, 2}, 0, 3, -1};
  req.capture.components = true;
  auto lt = l.run(req);
  auto rtr = r.run(req);
  r.fetch(rtr, ll::remote::kPartAll);
  const auto& a = *lt;
  const auto& b = *rtr.trace;
  QCOMPARE(b.ids, a.ids);
  QCOMPARE(b.pieces, a.pieces);
  QVERIFY(b.logits == a.logits.host());
  const size_t V = size_t(a.nVocab);
  QVERIFY(r.logitRows(rtr, 3, 5) ==
          std::vector<float>(a.logits.begin() + 3 * V, a.logits.begin() + 5 * V));
  QVERIFY(b.embd == a.embd.host());
  QVERIFY(b.finalNormRows(0, a.nTokens) == a.finalNormRows(0, a.nTokens));
  for (int layer = 0; layer < a.nLayer; ++layer) {
    const auto& x = a.layers[size_t(layer)];
    const auto& y = b.layers[size_t(layer)];
    QVERIFY(y.resid == x.resid.host());
    QVERIFY(y.residMid == x.residMid.host());
    QVERIFY(b.queries(layer, 0, a.nTokens) == a.queries(layer, 0, a.nTokens));
    QVERIFY(y.k == x.k.host());
    QVERIFY(y.attnOut == x.attnOut.host());
    QVERIFY(y.headOut == x.headOut.host());
    QVERIFY(y.entropy == x.entropy && y.colSum == x.colSum && y.lastRow == x.lastRow);
    QVERIFY(y.routerLogits == x.routerLogits && y.routerProbs == x.routerProbs);
    QVERIFY(y.experts == x.experts && y.expertWeights == x.expertWeights);
    for (int h = -1; h < a.nHead; ++h)
      QVERIFY(r.attentionMap(rtr, layer, h) == l.attentionMap(a, layer, h));
  }
  QVERIFY(!a.layers[1].routerLogits.empty());
  ll::rt::ana::LensOptions lo;
  lo.target = 50;
  const auto rl = r.lens(rtr, lo);
  const auto ll_ = ll::rt::ana::logitLens(l.engine(), a, lo);
  QVERIFY(rl.entropy == ll_.entropy && rl.topIds == ll_.topIds && rl.rank == ll_.rank);
  QVERIFY(rl.midTopProbs == ll_.midTopProbs && rl.earlyExit == ll_.earlyExit);
  ll::rt::GenerateRequest g;
  g.maxTokens = 20;
  g.interventions = req.interventions;
  g.interventions.knockout.reset();
  const auto rg = r.generate(g);
  const auto lg = l.generate(g);
  QCOMPARE(rg.ids, lg.ids);
  QCOMPARE(rg.text, lg.text);
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

void expectInvalid(const grpc::Status& st, const std::string& names) {
  QVERIFY2(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT,
           std::to_string(st.error_code()) + " " + st.error_message());
  QVERIFY2(st.error_message().find(names) != std::string::npos, st.error_message());
}

LL_TEST(badIndicesAndSizesRefused) {
  ServerProcess srv(cli(), {"--models", models().string(), "--max-message-bytes", "1048576"});
  Raw raw(srv.address());
  std::string id;
  QVERIFY(raw.open("stories260K.gguf", &id).ok());
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::SetPromptRequest req;
    req.set_session_id(id);
    req.mutable_ids()->add_ids(1);
    req.mutable_ids()->add_ids(999999);
    pb::PromptReply rep;
    expectInvalid(raw.stub->SetPrompt(&ctx, req, &rep), "token id 999999");
  }
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::SetPromptRequest req;
    req.set_session_id(id);
    req.set_text("Once upon a time");
    pb::PromptReply rep;
    QVERIFY(raw.stub->SetPrompt(&ctx, req, &rep).ok());
  }
  auto runWith = [&](const std::function<void(pb::RunRequest&)>& edit, int64_t* traceId) {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::RunRequest req;
    req.set_session_id(id);
    req.mutable_capture()->set_enabled(true);
    req.mutable_capture()->set_all_logits(true);
    req.mutable_capture()->set_last_layer(-1);
    edit(req);
    auto reader = raw.stub->Run(&ctx, req);
    pb::RunEvent ev;
    while (reader->Read(&ev))
      if (ev.has_done() && traceId) *traceId = ev.done().trace_id();
    return reader->Finish();
  };
  // Steering vector of the wrong length, unknown enum values, layers out of range.
  expectInvalid(runWith(
                    [](pb::RunRequest& r) {
                      auto* s = r.mutable_interventions()->add_steering();
                      s->set_layer(1);
                      for (int i = 0; i < 65; ++i) s->add_vector(1.0f);
                    },
                    nullptr),
                "steering vector has 65 values");
  expectInvalid(runWith(
                    [](pb::RunRequest& r) {
                      auto* s = r.mutable_interventions()->add_steering();
                      s->set_layer(77);
                      for (int i = 0; i < 64; ++i) s->add_vector(1.0f);
                    },
                    nullptr),
                "steering layer 77");
  expectInvalid(runWith(
                    [](pb::RunRequest& r) {
                      auto* p = r.mutable_interventions()->add_patches();
                      p->set_site(static_cast<pb::PatchSite>(42));
                    },
                    nullptr),
                "unknown site 42");
  expectInvalid(runWith(
                    [](pb::RunRequest& r) {
                      auto* k = r.mutable_interventions()->mutable_knockout();
                      k->add_from(3);
                      k->add_to(-5);
                      k->set_layer_end(1);
                    },
                    nullptr),
                "-5");
  expectInvalid(runWith(
                    [](pb::RunRequest& r) {
                      r.mutable_subset()->add_indices(2);
                      r.mutable_subset()->add_indices(1);
                    },
                    nullptr),
                "strictly increasing");
  // A huge vector: over the server's message limit, refused by gRPC before any handler runs.
  {
    const auto st = runWith(
        [](pb::RunRequest& r) {
          auto* s = r.mutable_interventions()->add_steering();
          for (int i = 0; i < 600000; ++i) s->add_vector(1.0f);
        },
        nullptr);
    QVERIFY2(st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED, st.error_message());
  }
  int64_t traceId = 0;
  QVERIFY(runWith([](pb::RunRequest&) {}, &traceId).ok());
  auto read = [&](pb::TraceField f, int layer, int r0, int r1) {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::TraceReadRequest req;
    req.set_session_id(id);
    req.set_trace_id(traceId);
    req.set_field(f);
    req.set_layer(layer);
    req.set_row_begin(r0);
    req.set_row_end(r1);
    pb::TraceReadReply rep;
    return raw.stub->ReadTrace(&ctx, req, &rep);
  };
  {
    const auto st = read(pb::FIELD_RESID, 4, 0, 5);
    QVERIFY2(st.ok(), st.error_message());
  }
  expectInvalid(read(pb::FIELD_RESID, 5, 0, 5), "layer 5");
  expectInvalid(read(pb::FIELD_RESID, -1, 0, 5), "layer -1");
  expectInvalid(read(pb::FIELD_KEYS, 0, 0, 6), "row range [0, 6)");
  expectInvalid(read(pb::FIELD_QUERIES, 0, 3, 2), "row range [3, 2)");
  expectInvalid(read(pb::FIELD_LOGITS, 0, -1, 2), "row range [-1, 2)");
  expectInvalid(read(static_cast<pb::TraceField>(99), 0, 0, 1), "field 99");
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::TraceReadRequest req;
    req.set_session_id(id);
    req.set_trace_id(12345);
    pb::TraceReadReply rep;
    expectInvalid(raw.stub->ReadTrace(&ctx, req, &rep), "trace_id 12345");
  }
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::AttentionMapRequest req;
    req.set_session_id(id);
    req.set_trace_id(traceId);
    req.set_layer(0);
    req.set_head(64);
    pb::AttentionMapReply rep;
    expectInvalid(raw.stub->AttentionMap(&ctx, req, &rep), "head");
  }
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::LensRequest req;
    req.set_session_id(id);
    req.set_trace_id(traceId);
    req.set_top_k(100000);
    pb::LensReply rep;
    expectInvalid(raw.stub->Lens(&ctx, req, &rep), "top_k 100000");
  }
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::GenerateRequest req;
    req.set_session_id(id);
    req.set_max_tokens(-3);
    auto reader = raw.stub->Generate(&ctx, req);
    pb::GenerateEvent ev;
    while (reader->Read(&ev)) {
    }
    expectInvalid(reader->Finish(), "max_tokens -3");
  }
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::PiecesRequest req;
    req.set_session_id("no-such-session");
    pb::PiecesReply rep;
    QCOMPARE(int(raw.stub->Pieces(&ctx, req, &rep).error_code()), int(grpc::StatusCode::NOT_FOUND));
  }
  // Still serving after all of it.
  QVERIFY(raw.open("stories260K.gguf", nullptr).ok());
}

LL_TEST(pathsOutsideModelsRefused) {
  const fs::path dir = fs::temp_directory_path() / ("ll-remote-models-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  fs::copy_file(models() / "stories260K.gguf", dir / "sub" / "inside.gguf");
  fs::create_symlink(models() / "stories260K.gguf", dir / "outside-link.gguf");
  fs::create_symlink(dir / "sub" / "inside.gguf", dir / "inside-link.gguf");
  fs::create_symlink(models(), dir / "outside-dir");
  ServerProcess srv(cli(), {"--models", dir.string()});
  Raw raw(srv.address());
  QVERIFY(raw.open("sub/inside.gguf", nullptr).ok());
  QVERIFY(raw.open("inside-link.gguf", nullptr).ok());
  expectInvalid(raw.open((models() / "stories260K.gguf").string(), nullptr), "absolute");
  expectInvalid(raw.open("../" + dir.filename().string() + "/sub/inside.gguf", nullptr), "'..'");
  expectInvalid(raw.open("sub/../sub/inside.gguf", nullptr), "'..'");
  expectInvalid(raw.open("outside-link.gguf", nullptr), "outside the server's models folder");
  expectInvalid(raw.open("outside-dir/stories260K.gguf", nullptr), "outside");
  QCOMPARE(int(raw.open("missing.gguf", nullptr).error_code()), int(grpc::StatusCode::NOT_FOUND));
  srv.stop();
  fs::remove_all(dir);
}

LL_TEST(tokenRequiredAndChecked) {
  const fs::path tok = fs::temp_directory_path() / ("ll-remote-token-" + std::to_string(getpid()));
  std::ofstream(tok) << "s3cret-token\n";
  ServerProcess srv(cli(), {"--models", models().string(), "--token-file", tok.string()});
  auto code = [&](const std::string& token) {
    Raw raw(srv.address(), token);
    return raw.open("stories260K.gguf", nullptr).error_code();
  };
  QCOMPARE(int(code("")), int(grpc::StatusCode::UNAUTHENTICATED));
  QCOMPARE(int(code("wrong")), int(grpc::StatusCode::UNAUTHENTICATED));
  QCOMPARE(int(code("s3cret-token-")), int(grpc::StatusCode::UNAUTHENTICATED));
  QCOMPARE(int(code("s3cret-token")), int(grpc::StatusCode::OK));
  // The CLI: refused without the token file, served with it.
  int rc = -1;
  const std::string c = cli().string() + " info stories260K.gguf --server " + srv.address();
  std::string out = run(c, &rc);
  QVERIFY2(rc != 0 && out.find("unauthenticated") != std::string::npos, out);
  out = run(c + " --token-file " + tok.string(), &rc);
  QVERIFY2(rc == 0 && out.find("\"architecture\"") != std::string::npos, out);
  srv.stop();
  // Listening beyond loopback without a token is refused.
  out = run(cli().string() + " serve --listen 0.0.0.0:0 --models " + models().string(), &rc);
  QVERIFY2(rc != 0 && out.find("needs --token-file") != std::string::npos, out);
  fs::remove(tok);
}

// TLS: a self-signed certificate for 127.0.0.1 made here with openssl; the client checks the server
// against it (--tls-ca) and a plaintext client is refused.
LL_TEST(tlsWithCertificate) {
  int code = -1;
  run("openssl version", &code);
  if (code != 0) QSKIP("openssl not installed (needed to make a test certificate)");
  const fs::path dir = fs::temp_directory_path() / ("ll-remote-tls-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  std::string out =
      run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
          "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
              key + " -out " + cert,
          &code);
  QVERIFY2(code == 0, out);
  ServerProcess srv(cli(), {"--models", models().string(), "--tls-cert", cert, "--tls-key", key});
  const std::string c = cli().string() + " info stories260K.gguf --server " + srv.address();
  out = run(c + " --tls-ca " + cert, &code);
  QVERIFY2(code == 0 && out.find("\"architecture\"") != std::string::npos, out);
  ll::remote::ClientOptions plain = client(srv);
  plain.timeoutMs = 5000;
  ll::remote::RemoteSession r(plain);
  bool refused = false;
  try {
    r.open("stories260K.gguf");
  } catch (const ll::remote::RemoteError&) {
    refused = true;
  }
  QVERIFY(refused);
  srv.stop();
  fs::remove_all(dir);
}

// The long request: greedy generation of thousands of tokens on a model with a 4096 context.
pb::GenerateRequest longGeneration(const std::string& id) {
  pb::GenerateRequest req;
  req.set_session_id(id);
  req.set_max_tokens(4000);
  req.set_stop_at_eos(false);
  req.mutable_sampling()->set_greedy(true);
  return req;
}

LL_TEST(newerRequestCancelsRunningOne) {
  ServerProcess srv(cli(), {"--models", models().string()});
  Raw raw(srv.address());
  std::string id;
  QVERIFY(raw.open("llama-gqa-f16.gguf", &id).ok());
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::SetPromptRequest req;
    req.set_session_id(id);
    req.set_text("Once upon a time");
    pb::PromptReply rep;
    QVERIFY(raw.stub->SetPrompt(&ctx, req, &rep).ok());
  }
  grpc::ClientContext gctx;
  raw.prepare(gctx, 300);
  auto reader = raw.stub->Generate(&gctx, longGeneration(id));
  pb::GenerateEvent ev;
  int tokens = 0;
  while (tokens < 3 && reader->Read(&ev)) tokens += ev.has_token();
  QCOMPARE(tokens, 3);
  // A newer run on the same session: the generation stops, the run is answered.
  const auto t0 = std::chrono::steady_clock::now();
  grpc::ClientContext rctx;
  raw.prepare(rctx);
  pb::RunRequest rr;
  rr.set_session_id(id);
  auto run = raw.stub->Run(&rctx, rr);
  bool done = false;
  pb::RunEvent rev;
  while (run->Read(&rev)) done |= rev.has_done();
  QVERIFY(run->Finish().ok());
  QVERIFY(done);
  while (reader->Read(&ev)) tokens += ev.has_token();
  const auto st = reader->Finish();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  QVERIFY2(st.error_code() == grpc::StatusCode::CANCELLED, st.error_message());
  QVERIFY2(st.error_message().find("superseded") != std::string::npos, st.error_message());
  QVERIFY2(tokens < 4000, std::to_string(tokens));
  QVERIFY2(s < 20, std::to_string(s));
}

// Two clients at once: one generates at length while the other runs and reads; the second is not
// held up by the first, and both get what a local session gives.
LL_TEST(twoClientsAtOnce) {
  ServerProcess srv(cli(), {"--models", models().string()});
  std::atomic<bool> longDone{false};
  std::string longError;
  ll::rt::Generation longGen;
  std::thread longer([&] {
    try {
      ll::remote::RemoteSession r(client(srv));
      r.open("llama-gqa-f16.gguf", "cpu", 1);
      r.setPrompt("Once upon a time");
      ll::rt::GenerateRequest g;
      g.maxTokens = 1500;
      g.stopAtEos = false;
      longGen = r.generate(g);
    } catch (const std::exception& e) {
      longError = e.what();
    }
    longDone = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ll::rt::Session l;
  l.load(models() / "stories260K.gguf");
  ll::remote::RemoteSession r(client(srv));
  r.open("stories260K.gguf");
  for (const char* text : {"Tom had a dog", "The sun was hot and the sky was blue"}) {
    r.setPrompt(text);
    l.setPrompt(text);
    auto rt = r.run();
    r.fetch(rt, ll::remote::kPartLogits | ll::remote::kPartResid);
    auto lt = l.run();
    QVERIFY(rt.trace->logits == lt->logits.host());
    QVERIFY(rt.trace->layers[3].resid == lt->layers[3].resid.host());
  }
  const bool overlapped = !longDone;
  longer.join();
  QVERIFY2(longError.empty(), longError);
  QVERIFY2(overlapped, "the long generation ended before the second client was served");
  ll::rt::Session big;
  big.load(models() / "llama-gqa-f16.gguf", ll::rt::BackendChoice{"cpu", 1});
  big.setPrompt("Once upon a time");
  ll::rt::GenerateRequest g;
  g.maxTokens = 1500;
  g.stopAtEos = false;
  QCOMPARE(longGen.ids, big.generate(g).ids);
}

LL_TEST(serverKilledMidStreamGivesError) {
  ServerProcess srv(cli(), {"--models", models().string()});
  ll::remote::RemoteSession r(client(srv));
  r.open("llama-gqa-f16.gguf", "cpu", 1);
  r.setPrompt("Once upon a time");
  ll::rt::GenerateRequest g;
  g.maxTokens = 4000;
  g.stopAtEos = false;
  int tokens = 0;
  std::string error;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    r.generate(g, [&](int32_t, const std::string&) {
      if (++tokens == 5) srv.kill();
      return true;
    });
  } catch (const ll::remote::RemoteError& e) {
    error = e.what();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  QVERIFY2(error.find("unavailable") != std::string::npos, error);
  QVERIFY2(s < 20, std::to_string(s));
  // The CLI against the dead server: a clear error and a non-zero exit, promptly.
  int rc = -1;
  const std::string out =
      run(cli().string() + " run stories260K.gguf --text hi --server " + srv.address(), &rc);
  QVERIFY2(rc != 0 && out.find("unavailable") != std::string::npos, out);
}

}  // namespace
#endif

LL_TEST_MAIN("tst_remote")
