// The command analyses over the Analyze call against a real `layerlens-cli serve` on loopback:
// hostile or malformed requests of patch, knockout, steer-sweep, contrast, compare, routing and
// steer-vector are INVALID_ARGUMENT naming the field (the server keeps serving), a request over the
// message limit is refused, and compare's teacher cannot leave the --models folder. Skips without
// gRPC.
#include "lltest.h"

#ifndef LAYERLENS_HAVE_REMOTE
LL_TEST(remoteTests) {
  QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
}
#else
#include <fstream>

#include "remote/convert.h"
#include "remote_test.h"

namespace {

using namespace remotetest;

// An Analyze call's status; *document gets the document when it came.
grpc::Status analyzeOn(Raw& raw, const std::string& id, const std::string& name,
                       const std::string& json, std::string* document = nullptr,
                       const ll::rt::Interventions& iv = {}) {
  grpc::ClientContext ctx;
  raw.prepare(ctx, 120);
  pb::AnalyzeRequest req;
  req.set_session_id(id);
  req.set_name(name);
  req.set_request_json(json);
  ll::remote::toProto(iv, req.mutable_interventions());
  auto reader = raw.stub->Analyze(&ctx, req);
  pb::AnalyzeEvent ev;
  while (reader->Read(&ev))
    if (ev.has_done() && document) *document = ev.done().result_json();
  return reader->Finish();
}

std::string openPrompted(Raw& raw, const std::string& model) {
  std::string id;
  if (!raw.open(model, &id).ok()) return {};
  grpc::ClientContext ctx;
  raw.prepare(ctx);
  pb::SetPromptRequest req;
  req.set_session_id(id);
  req.set_text("Once upon a time, there was a little girl");
  pb::PromptReply rep;
  return raw.stub->SetPrompt(&ctx, req, &rep).ok() ? id : std::string();
}

// The command analyses (patch, knockout, steer-sweep, contrast, compare, routing, steer-vector):
// unknown fields, wrong types, values out of range and values the model refuses are
// INVALID_ARGUMENT naming them; interventions sent to one that takes none are refused; the
// session still serves after all of it.
LL_TEST(badCommandAnalyzeRequestsRefused) {
  ServerProcess srv(cli(), {"--models", models().string()});
  Raw raw(srv.address());
  const std::string dense = openPrompted(raw, "stories260K.gguf");
  const std::string moe = openPrompted(raw, "stories260K-moe4.gguf");
  QVERIFY(!dense.empty() && !moe.empty());
  auto bad = [&](const std::string& name, const std::string& json, const std::string& names,
                 const std::string& id) { expectInvalid(analyzeOn(raw, id, name, json), names); };
  for (const char* name :
       {"patch", "knockout", "steer-sweep", "contrast", "compare", "routing", "steer-vector"}) {
    bad(name, R"({"bogus_field": 1})", "unknown field 'bogus_field'", moe);
    bad(name, "[1]", "must be a JSON object", moe);
  }
  bad("patch", R"({"clean": "Once", "noise_end": 2, "metric": "kl"})", "metric 'kl'", dense);
  bad("patch", R"({"clean_ids": "1,2"})", "field 'clean_ids' must be an array", dense);
  bad("patch", R"({"clean_ids": [1, "x"]})", "field 'clean_ids' must be an integer", dense);
  bad("patch", R"({"clean_ids": [1, 4294967296]})", "field 'clean_ids'", dense);
  bad("patch", R"({"add_bos": 2})", "field 'add_bos'", dense);
  bad("patch", R"({"noise_seed": -1})", "field 'noise_seed'", dense);
  bad("patch", R"({"noise_scale": 1e300})", "field 'noise_scale' must be a finite float", dense);
  bad("patch", R"({})", "give the clean prompt", dense);
  bad("patch", R"({"clean": "Once upon", "noise_begin": 0, "noise_end": 99})", "noise span", dense);
  bad("patch", R"({"clean_ids": [1, 99999], "noise_end": 1})", "token id 99999", dense);
  bad("knockout", R"({"from": 3})", "field 'from' must be a string", dense);
  bad("knockout", R"({"to": "99"})", "index 99 is out of range", dense);
  bad("knockout", R"({"layer": 99})", "layer", dense);
  bad("knockout", R"({"window": 0})", "window", dense);
  bad("knockout", R"({"answer": 999999})", "answer", dense);
  bad("knockout", R"({"sweep": "yes"})", "field 'sweep' must be true or false", dense);
  bad("steer-sweep", R"({"vector": [1, 2, 3]})", "the steering vector has 3 values", dense);
  bad("steer-sweep", R"({"vector": "abc"})", "field 'vector' must be an array", dense);
  bad("steer-sweep", R"({"alphas": [1e300]})", "field 'alphas' must be a finite float", dense);
  bad("steer-sweep", R"({"from": -1})", "field 'from'", dense);
  bad("steer-sweep", R"({"layer": 100000000})", "field 'layer'", dense);
  bad("contrast", R"({"task": ["a"], "neutral": ["b"]})", "not a MoE model", dense);
  bad("contrast", R"({"task": [1]})", "field 'task' must be an array of strings", moe);
  bad("contrast", R"({"task": ["a"], "neutral": ["b"], "layers": "some"})", "some", moe);
  bad("contrast", R"({"tau": "x"})", "field 'tau' must be a number", moe);
  bad("compare", R"({})", "field 'teacher'", dense);
  bad("compare", R"({"teacher": 7})", "field 'teacher' must be a string", dense);
  bad("compare", R"({"teacher": "../models/stories260K.gguf"})", "'..'", dense);
  bad("compare", "{\"teacher\": \"" + (models() / "stories260K.gguf").string() + "\"}", "absolute",
      dense);
  bad("compare", R"({"teacher": "gpt2-tiny-f16.gguf"})", "vocabulary", dense);
  QCOMPARE(int(analyzeOn(raw, dense, "compare", R"({"teacher": "missing.gguf"})").error_code()),
           int(grpc::StatusCode::NOT_FOUND));
  bad("routing", R"({})", "not a MoE model", dense);
  bad("routing", R"({"coverage": 2})", "field 'coverage'", moe);
  bad("routing", R"({"dump": 5})", "field 'dump' must be a string", moe);
  bad("routing", R"({"task": ["a"]})", "needs --task and --neutral", moe);
  bad("steer-vector", R"({"method": "magic"})", "field 'method'", dense);
  bad("steer-vector", R"({"method": "import", "vector": [1]})", "the vector has 1 values", dense);
  bad("steer-vector", R"({"gen": -1})", "field 'gen'", dense);
  bad("steer-vector", R"({"method": "concept", "concept": "cat"})", "--baseline", dense);
  bad("steer-vector", R"({"positive": ["a"], "negative": [["b"]]})", "field 'negative'", dense);
  // Interventions go to routing, patch and knockout's readout (the GUI's); the others refuse them.
  ll::rt::Interventions iv;
  iv.router.push_back({1, 2, ll::rt::RouterEditKind::Ban, 0.0f});
  expectInvalid(analyzeOn(raw, moe, "knockout", "{}", nullptr, iv), "takes no interventions");
  // The GUI's readout takes its knockout from the interventions: none there is refused.
  expectInvalid(analyzeOn(raw, moe, "knockout", R"({"readout": true})", nullptr, iv),
                "readout needs the knockout");
  std::string doc;
  QVERIFY(analyzeOn(raw, moe, "routing", "{}", &doc, iv).ok());
  QVERIFY2(doc.find("\"load\"") != std::string::npos, doc.c_str());
  // Still serving: good requests give their documents.
  QVERIFY(analyzeOn(raw, dense, "knockout", "{}", &doc).ok());
  QVERIFY2(doc.find("\"relative_change_percent\"") != std::string::npos, doc.c_str());
  QVERIFY(analyzeOn(raw, dense, "compare", R"({"teacher": "stories260K-moe4.gguf"})", &doc).ok());
  QVERIFY2(doc.find("\"jsd_bits\"") != std::string::npos, doc.c_str());
}

// A request's JSON is bounded by the server's message limit (prompt sets and vectors travel in
// it); one over it is refused before it is parsed, and the CLI reports it.
LL_TEST(analyzeRequestOverMessageLimitRefused) {
  ServerProcess srv(cli(), {"--models", models().string(), "--max-message-bytes", "65536"});
  Raw raw(srv.address());
  const std::string id = openPrompted(raw, "stories260K.gguf");
  QVERIFY(!id.empty());
  const std::string big = R"({"concept": ")" + std::string(65000, 'a') + "\"}";
  expectInvalid(analyzeOn(raw, id, "steer-vector", big),
                "request_json: 65015 bytes, at most 64512");
  int code = -1;
  const fs::path tmp = fs::temp_directory_path() / ("ll-remote-big-" + std::to_string(getpid()));
  fs::create_directories(tmp);
  {
    std::ofstream f(tmp / "task.txt");
    for (int i = 0; i < 4000; ++i) f << "Once upon a time there was a girl\n";
  }
  const std::string out =
      run(cli().string() + " contrast stories260K-moe4.gguf --task " + (tmp / "task.txt").string() +
              " --neutral hi --out " + (tmp / "c.json").string() + " --server " + srv.address(),
          &code);
  QCOMPARE(code, 1);
  QVERIFY2(
      out.find("request_json") != std::string::npos || out.find("message") != std::string::npos,
      out.c_str());
  QVERIFY(!fs::exists(tmp / "c.json"));
  fs::remove_all(tmp);
  QVERIFY(raw.open("stories260K.gguf", nullptr).ok());
}

// The teacher of `compare --server` is a path in the server's --models folder like the student:
// outside it (a symlink out, '..', an absolute path) the CLI fails with the server's message.
LL_TEST(teacherOutsideModelsRefused) {
  const fs::path dir = fs::temp_directory_path() / ("ll-remote-teach-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(models() / "stories260K.gguf", dir / "student.gguf");
  fs::create_symlink(models() / "stories260K-moe4.gguf", dir / "outside-link.gguf");
  ServerProcess srv(cli(), {"--models", dir.string()});
  const std::string c = cli().string() + " compare student.gguf ";
  const std::string tail = " --text 'Once upon a time' --out " + (dir / "c.json").string() +
                           " --server " + srv.address();
  const std::pair<std::string, std::string> refused[] = {
      {"outside-link.gguf", "outside the server's models folder"},
      {"../" + dir.filename().string() + "/student.gguf", "'..'"},
      {(models() / "stories260K-moe4.gguf").string(), "absolute"}};
  for (const auto& [teacher, why] : refused) {
    int code = -1;
    const std::string out = run(c + teacher + tail, &code);
    QCOMPARE(code, 1);
    QVERIFY2(out.find(why) != std::string::npos, out.c_str());
    QVERIFY(!fs::exists(dir / "c.json"));
  }
  int code = -1;
  const std::string ok = run(c + "student.gguf" + tail, &code);
  QVERIFY2(code == 0, ok.c_str());
  srv.stop();
  fs::remove_all(dir);
}

}  // namespace
#endif

LL_TEST_MAIN("tst_remote_command_security")
