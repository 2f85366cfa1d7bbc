// The commands that run remotely through the named analyses patch, knockout, steer-sweep,
// contrast, compare, routing and steer-vector, against a real `layerlens-cli serve` on loopback:
// stdout and every file each writes (--out, .npy side files, routing's dump, the steering vector)
// equal the local run's byte for byte on a dense and a MoE model (routing with its intervention
// flags); a newer request on the session cancels them. Skips without gRPC.
#include "lltest.h"

#ifndef LAYERLENS_HAVE_REMOTE
LL_TEST(remoteTests) {
  QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
}
#else
#include <fstream>

#include "remote_test.h"

namespace {

using namespace remotetest;

// A scratch folder: in/ holds the inputs the commands read, out/ what they write.
struct Scratch {
  fs::path root = fs::temp_directory_path() / ("ll-remote-cmd-" + std::to_string(getpid()));
  Scratch() {
    fs::remove_all(root);
    fs::create_directories(root / "in");
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  std::string in(const std::string& name, const std::string& text) const {
    std::ofstream(root / "in" / name) << text;
    return (root / "in" / name).string();
  }
};

std::string replaced(std::string s, const std::string& key, const std::string& value) {
  for (size_t at = s.find(key); at != std::string::npos; at = s.find(key, at + value.size()))
    s.replace(at, key.size(), value);
  return s;
}

// args may name {OUT}, a folder the command writes into. It runs locally (in the models folder, so
// paths print alike) and with --server, each into an empty {OUT} at the same path: the same exit
// status 0, the same stdout and stderr, and the same files.
void sameRun(const ServerProcess& srv, const Scratch& sc, const std::string& pattern) {
  const fs::path out = sc.root / "out", local = sc.root / "local";
  const std::string args = replaced(pattern, "{OUT}", out.string());
  const std::string c = cli().string();
  fs::remove_all(out);
  fs::remove_all(local);
  fs::create_directories(out);
  int lc = -1, rc = -1;
  const std::string a = run("cd " + models().string() + " && " + c + " " + args, &lc);
  QVERIFY2(lc == 0, (args + "\n" + a).c_str());
  fs::rename(out, local);
  fs::create_directories(out);
  const std::string b = run(c + " " + args + " --server " + srv.address(), &rc);
  QVERIFY2(rc == 0, (args + "\n" + b).c_str());
  QVERIFY2(a == b, (args + "\nlocal:\n" + a + "\nremote:\n" + b).c_str());
  if (!fs::is_empty(local) || !fs::is_empty(out)) sameFolders(local, out);
}

// Makes a file with a local command (an input of the commands under test).
void make(const std::string& args) {
  int code = -1;
  const std::string out =
      run("cd " + models().string() + " && " + cli().string() + " " + args, &code);
  QVERIFY2(code == 0, (args + "\n" + out).c_str());
}

void commandParity(const std::string& model, const std::string& teacher, bool moe) {
  ServerProcess srv(cli(), {"--models", models().string()});
  Scratch sc;
  const std::string m =
      model + " --text 'Once upon a time, there was a little girl named Lily. She loved to play'";
  const std::string pos = sc.in("pos.txt", "Lily was happy and smiled\nThe sun was warm\n");
  const std::string neg = sc.in("neg.txt", "Lily was sad and cried\nThe rain was cold\n");
  const std::string words = sc.in("words.txt", "dog\nball\ntree\n");
  const std::string task = sc.in("task.txt", "One, two, three, four\nFive and six and seven\n");
  const std::string neutral = sc.in("neutral.txt", "Lily went to the park\nTom had a red ball\n");
  const std::string vec = (sc.root / "in" / "v.npy").string();
  const std::string cv = (sc.root / "in" / "cv.gguf").string();
  make("steer-vector " + model + " --pos " + pos + " --neg " + neg + " --layer 2 --out " + vec);
  make("steer-vector " + model + " --concept cat --baseline " + words + " --layer 3 --out " + cv);
  QVERIFY(fs::exists(vec) && fs::exists(cv));

  sameRun(srv, sc,
          "patch " + model + " --clean 'Lily went to the park' --noise 0:3 --out {OUT}/e.npy " +
              "--heads {OUT}/h.npy");
  sameRun(srv, sc,
          "patch " + model + " --clean-ids 1,403,300,301,302,303 --corrupt-ids " +
              "1,410,300,301,302,303 --metric prob --component attn --direction noise --target " +
              "302 --out {OUT}/e.npy");
  sameRun(srv, sc, "knockout " + m);
  sameRun(srv, sc, "knockout " + m + " --sweep --from last --to 0-3 --window 3 --layer 2");
  sameRun(srv, sc, "steer-sweep " + m + " --vector " + vec + " --alphas 0,1,4 --out {OUT}/s.json");
  sameRun(srv, sc,
          "steer-sweep " + m + " --vector " + cv + " --layer 3 --no-layer-sweep --position 5 " +
              "--from 2 --alpha 2 --out {OUT}/s.json");
  sameRun(srv, sc, "compare " + m + " " + teacher + " --out {OUT}/c.json");
  sameRun(srv, sc,
          "compare " + m + " " + teacher +
              " --entropy-threshold 0.5 --jsd-threshold 0.1 --out {OUT}/c.json");
  sameRun(srv, sc,
          "steer-vector " + m + " --pos " + pos + " --neg " + neg +
              " --out {OUT}/v.npy --readout 4 --gen 3 --from 2");
  sameRun(srv, sc,
          "steer-vector " + model + " --concept cat --baseline " + words +
              " --template 'A {word} ran' --layer 3 --out {OUT}/v.gguf");
  sameRun(srv, sc, "steer-vector " + m + " --from-gguf " + cv + " --layer 3 --out {OUT}/v.npy");
  if (!moe) return;
  sameRun(srv, sc,
          "contrast " + model + " --task " + task + " --neutral 'Tom had a red ball' --tau 0.05 " +
              "--out {OUT}/c.json");
  sameRun(srv, sc,
          "contrast " + model + " --task " + task + " --neutral " + neutral +
              " --layers middle --lambda 1 --promote-all-layers --out {OUT}/c.json");
  sameRun(srv, sc, "routing " + m);
  sameRun(srv, sc,
          "routing " + m + " --ban-expert 1:2 --bias-expert 0:1:2.5 --promote 1:0 --lambda 0.7 " +
              "--coverage 0.8 --compare-text 'Tom had a red ball' --task " + task + " --neutral " +
              neutral + " --tau 0.05 --all-layers --dump {OUT}/d");
}

LL_TEST(commandsRemoteEqualLocalDense) {
  commandParity("stories260K.gguf", "stories260K-moe4.gguf", false);
}
LL_TEST(commandsRemoteEqualLocalMoe) {
  commandParity("stories260K-moe4.gguf", "stories260K.gguf", true);
}

// A command analysis running on a long prompt is cancelled by a newer Run on the session, at its
// next progress step (CANCELLED, "superseded"), and sends no document.
void cancelledByNewerRun(Raw& raw, const std::string& id, const std::string& name,
                         const std::string& json) {
  grpc::ClientContext actx;
  raw.prepare(actx, 300);
  pb::AnalyzeRequest areq;
  areq.set_session_id(id);
  areq.set_name(name);
  areq.set_request_json(json);
  auto reader = raw.stub->Analyze(&actx, areq);
  pb::AnalyzeEvent ev;
  int progress = 0;
  while (progress < 1 && reader->Read(&ev)) progress += ev.has_progress();
  QVERIFY2(progress == 1, name.c_str());
  grpc::ClientContext rctx;
  raw.prepare(rctx, 120);
  pb::RunRequest rr;
  rr.set_session_id(id);
  auto newer = raw.stub->Run(&rctx, rr);
  pb::RunEvent rev;
  while (newer->Read(&rev)) {
  }
  QVERIFY(newer->Finish().ok());
  bool gotDocument = false;
  while (reader->Read(&ev)) gotDocument |= ev.has_done();
  const auto st = reader->Finish();
  QVERIFY2(st.error_code() == grpc::StatusCode::CANCELLED,
           (name + " " + st.error_message()).c_str());
  QVERIFY2(st.error_message().find("superseded") != std::string::npos, st.error_message().c_str());
  QVERIFY(!gotDocument);
}

LL_TEST(newerRequestCancelsCommandAnalyses) {
  ServerProcess srv(cli(), {"--models", models().string()});
  Raw raw(srv.address());
  std::string id;
  int nEmbd = 0;
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::OpenSessionRequest req;
    req.set_model("llama-gqa-f16.gguf");
    pb::OpenSessionReply rep;
    QVERIFY(raw.stub->OpenSession(&ctx, req, &rep).ok());
    id = rep.session_id();
    nEmbd = rep.info().n_embd();
  }
  std::string text;
  for (int i = 0; i < 60; ++i) text += "Once upon a time there was a girl who liked to play. ";
  {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::SetPromptRequest req;
    req.set_session_id(id);
    req.set_text(text);
    pb::PromptReply rep;
    QVERIFY(raw.stub->SetPrompt(&ctx, req, &rep).ok());
    QVERIFY(rep.ids_size() > 500);
  }
  const nlohmann::json patch = {{"clean", text}, {"noise_begin", 1}, {"noise_end", 4}};
  cancelledByNewerRun(raw, id, "patch", patch.dump());
  cancelledByNewerRun(raw, id, "knockout", R"({"sweep": true, "to": "0-9"})");
  const nlohmann::json sweep = {{"vector", std::vector<float>(size_t(nEmbd), 0.01f)},
                                {"alphas", {0, 1, 2, 4, 8}}};
  cancelledByNewerRun(raw, id, "steer-sweep", sweep.dump());
}

}  // namespace
#endif

LL_TEST_MAIN("tst_remote_commands")
