// The remote server's defences against a real `layerlens-cli serve` on loopback: indices, enum
// values, vector lengths and message sizes from a raw client are refused with a status naming
// them (and the server keeps serving); paths outside --models are refused; the token is required
// and checked; TLS with a certificate. Skips without gRPC.
#include "lltest.h"

#ifndef LAYERLENS_HAVE_REMOTE
LL_TEST(remoteTests) {
  QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
}
#else

#include <algorithm>
#include <functional>

#include "remote_test.h"

namespace {

using namespace remotetest;

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
    req.mutable_capture();  // present but empty: the runtime's defaults (full capture)
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
    // The last layer was run (an empty CaptureOptions is not an early exit at layer 0).
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::TraceReadRequest req;
    req.set_session_id(id);
    req.set_trace_id(traceId);
    req.set_field(pb::FIELD_LOGITS);
    req.set_row_begin(4);
    req.set_row_end(5);
    pb::TraceReadReply rep;
    QVERIFY(raw.stub->ReadTrace(&ctx, req, &rep).ok());
    QCOMPARE(rep.rows(), 1);
    QVERIFY(std::any_of(rep.values().begin(), rep.values().end(), [](float v) { return v != 0; }));
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

// Analyze requests: an unknown analysis, unknown fields, wrong types, values out of range, text
// that is not JSON, nesting and sizes past the bounds are INVALID_ARGUMENT naming them; values the
// analysis checks against the model fail as they do locally; the session still serves after it.
LL_TEST(badAnalyzeRequestsRefused) {
  ServerProcess srv(cli(), {"--models", models().string()});
  Raw raw(srv.address());
  std::string id;
  QVERIFY(raw.open("stories260K.gguf", &id).ok());
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::SetPromptRequest req;
    req.set_session_id(id);
    req.set_text("Once upon a time, there was a little girl");
    pb::PromptReply rep;
    QVERIFY(raw.stub->SetPrompt(&ctx, req, &rep).ok());
  }
  std::string document;
  auto analyze = [&](const std::string& name, const std::string& json) {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::AnalyzeRequest req;
    req.set_session_id(id);
    req.set_name(name);
    req.set_request_json(json);
    auto reader = raw.stub->Analyze(&ctx, req);
    pb::AnalyzeEvent ev;
    document.clear();
    while (reader->Read(&ev))
      if (ev.has_done()) document = ev.done().result_json();
    return reader->Finish();
  };
  expectInvalid(analyze("bogus", "{}"), "unknown analysis 'bogus'");
  expectInvalid(analyze("select", R"({"kk": 3})"), "unknown field 'kk'");
  expectInvalid(analyze("select", R"({"k": "four"})"), "field 'k' must be an integer");
  expectInvalid(analyze("select", R"({"method": "magic"})"), "unknown selection method 'magic'");
  expectInvalid(analyze("select", R"({"method": "snapkv", "layer": 99})"), "layer 99");
  expectInvalid(analyze("select", R"({"answer": 100000000})"), "field 'answer'");
  expectInvalid(analyze("select", R"({"k": 99999999999})"), "field 'k'");
  expectInvalid(analyze("select", R"({"max_pool": 1})"), "field 'max_pool' must be true or false");
  expectInvalid(analyze("select", "[1, 2]"), "must be a JSON object");
  expectInvalid(analyze("select", "{\"k\": "), "not JSON");
  expectInvalid(analyze("skip", R"({"sublayer": "ffn"})"), "ffn");
  expectInvalid(analyze("attribute", R"({"target": 999999})"), "target token 999999");
  expectInvalid(analyze("attribute", R"({"target": 3, "position": 500})"), "--position 500");
  expectInvalid(analyze("latent", R"({"word_a": "", "word_b": "dog"})"), "word_a");
  expectInvalid(analyze("flow", R"({"threshold": 1.5})"), "threshold");
  expectInvalid(analyze("flow", R"({"threads": -4})"), "field 'threads'");
  expectInvalid(analyze("flow", R"({"position": 1000})"), "1000");
  expectInvalid(analyze("skip", std::string(100000, '[')), "request_json");
  expectInvalid(analyze("skip", R"({"position": [[[[[1]]]]]})"), "nested deeper");
  // Still serving, on the same session: a good request gives the document.
  QVERIFY(analyze("skip", R"({"position": -1})").ok());
  QVERIFY2(document.find("\"kl\"") != std::string::npos, document);
  // The CLI names the server's message and fails as the local command does.
  int code = -1;
  const std::string out = run(cli().string() +
                                  " select stories260K.gguf --text 'Once upon a time' --method "
                                  "snapkv --layer 99 --server " +
                                  srv.address(),
                              &code);
  QCOMPARE(code, 1);
  QVERIFY2(out.find("invalid argument") != std::string::npos &&
               out.find("layer 99") != std::string::npos,
           out);
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

}  // namespace
#endif

LL_TEST_MAIN("tst_remote_security")
