// The remote Session API end to end against a real `layerlens-cli serve` on loopback: remote
// output equals local output bit for bit (CLI commands and RemoteSession reads, dense and MoE); a
// newer request cancels a running one; two clients run at once; a server killed mid-stream gives
// the client an error, not a hang. Skips without gRPC.
#include "lltest.h"

#ifndef LAYERLENS_HAVE_REMOTE
LL_TEST(remoteTests) {
  QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
}
#else
#include <atomic>
#include <thread>

#include "remote_test.h"
#include "runtime/api/session.h"

namespace {

using namespace remotetest;

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

// Commands that do not run a model remotely refuse --server instead of running locally (and
// write nothing).
LL_TEST(unsupportedCommandsRefuseServer) {
  int code = -1;
  const fs::path out = fs::temp_directory_path() / ("ll-remote-demo-" + std::to_string(getpid()));
  const std::string msg =
      run(cli().string() + " demo-model --out " + out.string() + " --server 127.0.0.1:1", &code);
  QCOMPARE(code, 2);
  QVERIFY2(msg.find("--server is not supported") != std::string::npos, msg);
  QVERIFY(!fs::exists(out));
}

// The analysis commands (the Analyze call): stdout, stderr and the --out document of each, run
// locally and on the server, byte for byte; select with every method, with --answer.
void analysisParity(const std::string& model) {
  ServerProcess srv(cli(), {"--models", models().string()});
  const std::string prompt =
      " --text 'Once upon a time, there was a little girl named Lily. She loved to play outside'";
  const std::string m = model + prompt;
  sameOutput(srv, "select " + m + " --method gemfilter --k 6 --sweep --answer 8");
  sameOutput(srv, "select " + m + " --method snapkv --k 8 --layer 2 --answer 8");
  sameOutput(srv, "select " + m + " --method snapkv --k 4 --max-pool");
  sameOutput(srv, "select " + m + " --method h2o --k 8 --recent 3 --answer 8");
  sameOutput(srv,
             "select " + m + " --method promptdistill --stages 1:10,3:6 --kv-trim 1 --answer 8");
  const fs::path tmp = fs::temp_directory_path() / ("ll-remote-ana-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  const std::string withOut[] = {
      "attribute " + m + " --target 42 --other 7",
      "attribute " + m + " --target 42 --position 5",
      "skip " + m,
      "skip " + m + " --sublayer attn --position 4",
      "latent " + m + " --word-a cat --word-b dog",
      "flow " + m + " --threshold 0.1",
      "flow " + m + " --position 6 --threshold 0",
  };
  for (const auto& args : withOut) {
    const fs::path local = tmp / "local.json", remote = tmp / "remote.json";
    fs::remove(local);
    fs::remove(remote);
    sameOutput(srv, args + " --out " + local.string());
    // sameOutput wrote the remote run's document to the same path: run it again elsewhere.
    fs::rename(local, remote);
    int code = -1;
    const std::string out = run("cd " + models().string() + " && " + cli().string() + " " + args +
                                    " --out " + local.string(),
                                &code);
    QVERIFY2(code == 0, out);
    const std::string a = readFile(local), b = readFile(remote);
    QVERIFY2(a.size() > 20, args);
    QVERIFY2(a == b, args + "\nlocal:\n" + a.substr(0, 400) + "\nremote:\n" + b.substr(0, 400));
  }
  fs::remove_all(tmp);
}

LL_TEST(analysesRemoteEqualLocalDense) {
  analysisParity("stories260K.gguf");
}
LL_TEST(analysesRemoteEqualLocalMoe) {
  analysisParity("stories260K-moe4.gguf");
}

// A figure needs the result object, which a remote run leaves on the server: refused up front,
// with no output file.
LL_TEST(figureWithServerRefused) {
  const fs::path out = fs::temp_directory_path() / ("ll-remote-fig-" + std::to_string(getpid()));
  int code = -1;
  const std::string msg =
      run(cli().string() + " skip stories260K.gguf --text hi --out " + (out / "s.json").string() +
              " --figure " + (out / "s.png").string() + " --server 127.0.0.1:1",
          &code);
  QCOMPARE(code, 1);
  QVERIFY2(msg.find("--figure cannot be used with --server") != std::string::npos, msg);
  QVERIFY(!fs::exists(out / "s.json"));
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

// A newer request cancels a running analysis as it cancels a run: the layer-skip sweep (one pass
// per layer on a long prompt) stops with CANCELLED, the newer run is answered.
LL_TEST(newerRequestCancelsAnalysis) {
  ServerProcess srv(cli(), {"--models", models().string()});
  Raw raw(srv.address());
  std::string id;
  QVERIFY(raw.open("llama-gqa-f16.gguf", &id).ok());
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::SetPromptRequest req;
    req.set_session_id(id);
    std::string text;
    for (int i = 0; i < 60; ++i) text += "Once upon a time there was a girl who liked to play. ";
    req.set_text(text);
    pb::PromptReply rep;
    QVERIFY(raw.stub->SetPrompt(&ctx, req, &rep).ok());
    QVERIFY(rep.ids_size() > 500);
  }
  grpc::ClientContext actx;
  raw.prepare(actx, 300);
  pb::AnalyzeRequest areq;
  areq.set_session_id(id);
  areq.set_name("skip");
  areq.set_request_json(R"({"sublayer": "layer"})");
  auto reader = raw.stub->Analyze(&actx, areq);
  pb::AnalyzeEvent ev;
  int progress = 0;
  while (progress < 1 && reader->Read(&ev)) progress += ev.has_progress();
  QCOMPARE(progress, 1);
  const auto t0 = std::chrono::steady_clock::now();
  grpc::ClientContext rctx;
  raw.prepare(rctx, 120);
  pb::RunRequest rr;
  rr.set_session_id(id);
  auto newer = raw.stub->Run(&rctx, rr);
  bool done = false;
  pb::RunEvent rev;
  while (newer->Read(&rev)) done |= rev.has_done();
  QVERIFY(newer->Finish().ok());
  QVERIFY(done);
  bool gotDocument = false;
  while (reader->Read(&ev)) gotDocument |= ev.has_done();
  const auto st = reader->Finish();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  QVERIFY2(st.error_code() == grpc::StatusCode::CANCELLED, st.error_message());
  QVERIFY2(st.error_message().find("superseded") != std::string::npos, st.error_message());
  QVERIFY(!gotDocument);
  QVERIFY2(s < 60, std::to_string(s));
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

LL_TEST_MAIN("tst_remote_sessions")
