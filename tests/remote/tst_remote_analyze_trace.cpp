// Analyze over a given trace (AnalyzeRequest.trace_session_id / trace_id, what the GUI's helper
// session reads its prompt session's run with): the documents of attribute, latent, skip (with
// every position's values), flow and steer-sweep equal runAnalysis in process over a trace with
// the same history (a knockout in force, then a prompt edit that reuses the prefix), byte for
// byte, and so do compare's over a sequence of runs with its teacher kept across calls; an unknown
// session or trace, a trace of another model and an analysis that runs its own
// passes (select, the other command analyses) are refused with an error naming the problem. Skips
// without gRPC.
#include "lltest.h"

#ifndef LAYERLENS_HAVE_REMOTE
LL_TEST(remoteTests) {
  QSKIP("built without gRPC (libgrpc++-dev, protobuf-compiler-grpc)");
}
#else
#include "remote_test.h"
#include "runtime/analysis/analysis_call.h"
#include "runtime/api/session.h"

namespace {

using namespace remotetest;
using namespace ll;

// The prompt runs of the GUI's prompt session: a first run with a knockout, then an edit whose
// prefix the session reuses.
template <class Run>
auto promptRuns(Run&& runPrompt) {
  rt::RunRequest req;
  req.interventions.knockout = rt::Knockout{{}, {1}, 0, 2, 5};
  runPrompt("Once upon a time there was a little girl", req);
  return runPrompt("Once upon a time there was a little girl named Lily", req);
}

}  // namespace

LL_TEST(analyzeReadsAnotherSessionsTrace) {
  ServerProcess srv(cli(), {"--models", models().string()});
  remote::RemoteSession prompt(client(srv)), aux(client(srv));
  prompt.open("stories260K.gguf");
  aux.open("stories260K.gguf");
  const remote::RemoteTrace rtr = promptRuns([&](const std::string& text, const rt::RunRequest& r) {
    prompt.setPrompt(text);
    return prompt.run(r);
  });
  QVERIFY(rtr.trace->reusedRows > 0);

  rt::Session local, localAux;
  rt::BackendChoice b;
  local.load((models() / "stories260K.gguf").string(), b);
  localAux.attachSharing(local);
  std::shared_ptr<const rt::Trace> tr =
      promptRuns([&](const std::string& text, const rt::RunRequest& r) {
        local.setPrompt(text);
        return local.run(r);
      });
  rt::ana::AnalysisEnv env;
  env.trace = tr;

  rt::ana::LayerSkipRequest skip;
  skip.part = rt::SkipPart::Attention;
  skip.allPositions = true;
  rt::ana::LatentLanguageRequest latent;
  latent.wordA = "girl";
  latent.wordB = "Lily";
  rt::ana::FlowRequest flow;
  flow.threshold = 0.05;
  // The steering sweeps at a middle token, from a later start, with the layer sweep: the steered
  // passes keep the trace's knockout.
  rt::ana::SteerSweepCall sweep;
  for (int i = 0; i < local.model().spec.nEmbd; ++i)
    sweep.vector.push_back(0.05f * float(i % 7) - 0.1f);
  sweep.request.layer = 3;
  sweep.request.alpha = 5.5f;
  sweep.request.fromPos = 2;
  sweep.request.position = 6;
  const rt::ana::AnalysisRequest requests[] = {rt::ana::AttributionRequest{265, 261, 4}, latent,
                                               skip, flow, sweep};
  // The helper session's own prompt is another text: the analyses read the given trace, not it.
  aux.setPrompt("Tom had a red ball");
  for (const auto& req : requests) {
    const std::string name = rt::ana::analysisName(req);
    const std::string want = rt::ana::runAnalysis(localAux, req, {}, {}, env).document;
    const std::string got =
        aux.analyze(name, rt::ana::analysisRequestJson(req).dump(), {}, {}, nullptr, &rtr);
    QVERIFY2(got == want, name);
  }
}

// compare over the prompt session's trace, its teacher kept on the helper's server session across
// calls as the GUI's job keeps its teacher session: the documents of a sequence of runs (a
// knockout, a prompt edit reusing the prefix, another teacher and back) equal runAnalysis in
// process with one kept teacher session per path, byte for byte.
LL_TEST(compareReadsTheTraceAndKeepsItsTeacher) {
  ServerProcess srv(cli(), {"--models", models().string()});
  remote::RemoteSession prompt(client(srv)), aux(client(srv));
  prompt.open("stories260K.gguf");
  aux.open("stories260K.gguf");
  aux.setPrompt("Tom had a red ball");  // not what compare reads
  rt::Session local, localAux;
  std::unique_ptr<rt::Session> teacher;
  rt::BackendChoice b;
  local.load((models() / "stories260K.gguf").string(), b);
  localAux.attachSharing(local);
  std::string teacherPath;
  rt::ana::AnalysisEnv env;
  env.teacherSession = [&](const std::string& path) -> rt::Session& {
    if (path != teacherPath) {  // a new path: a new session, as AnalysisJob::runTeacher
      teacher = std::make_unique<rt::Session>();
      teacher->load((models() / path).string(), b);
      teacherPath = path;
    }
    return *teacher;
  };
  rt::RunRequest req;
  req.interventions.knockout = rt::Knockout{{}, {1}, 0, 2, 5};
  const std::pair<const char*, const char*> steps[] = {
      {"Once upon a time there was a little girl", "stories260K-moe4.gguf"},
      {"Once upon a time there was a little girl named Lily", "stories260K-moe4.gguf"},
      {"Once upon a time there was a little girl named Lily who", "stories260K-moe4.gguf"},
      {"Once upon a time there was a little boy", "llama-moe.gguf"},
      {"Once upon a time there was a little boy named Tim", "stories260K-moe4.gguf"}};
  for (const auto& [text, path] : steps) {
    prompt.setPrompt(text);
    const remote::RemoteTrace rtr = prompt.run(req);
    local.setPrompt(text);
    env.trace = local.run(req);
    rt::ana::CompareCall call;
    call.teacher = path;
    const std::string want = rt::ana::runAnalysis(localAux, call, {}, {}, env).document;
    const std::string got =
        aux.analyze("compare", rt::ana::analysisRequestJson(call).dump(), {}, {}, nullptr, &rtr);
    QVERIFY2(got == want, std::string(text) + " / " + path);
    QVERIFY(want.find("\"jsd_bits\"") != std::string::npos);
  }
  // A teacher outside --models, or missing there, is refused (and the session serves on).
  rt::ana::CompareCall call;
  prompt.setPrompt("Once upon a time");
  const remote::RemoteTrace rtr = prompt.run();
  for (const char* bad : {"../stories260K.gguf", "no-such-teacher.gguf"}) {
    call.teacher = bad;
    try {
      aux.analyze("compare", rt::ana::analysisRequestJson(call).dump(), {}, {}, nullptr, &rtr);
      QFAIL(std::string("accepted ") + bad);
    } catch (const remote::RemoteError& e) {
      QVERIFY2(e.reason.find(bad) != std::string::npos, e.what());
    }
  }
}

LL_TEST(analyzeOnATraceRefusesBadReferences) {
  ServerProcess srv(cli(), {"--models", models().string()});
  Raw raw(srv.address());
  std::string promptId, auxId, otherId;
  QVERIFY(raw.open("stories260K.gguf", &promptId).ok());
  QVERIFY(raw.open("stories260K.gguf", &auxId).ok());
  QVERIFY(raw.open("stories260K-moe4.gguf", &otherId).ok());
  const auto analyze = [&](const std::string& session, const std::string& name,
                           const std::string& traceSession, int64_t traceId) {
    grpc::ClientContext ctx;
    raw.prepare(ctx);
    pb::AnalyzeRequest req;
    req.set_session_id(session);
    req.set_name(name);
    req.set_request_json(name == "latent" ? R"({"word_a":"a","word_b":"b"})" : "{}");
    req.set_trace_session_id(traceSession);
    req.set_trace_id(traceId);
    auto reader = raw.stub->Analyze(&ctx, req);
    pb::AnalyzeEvent ev;
    while (reader->Read(&ev)) {
    }
    return reader->Finish();
  };
  // A trace on the prompt session.
  remote::RemoteSession prompt(client(srv));
  prompt.open("stories260K.gguf");
  prompt.setPrompt("Once upon a time");
  const remote::RemoteTrace tr = prompt.run();
  QVERIFY(analyze(auxId, "latent", tr.session, tr.id).ok());
  const grpc::Status unknown = analyze(auxId, "latent", "no-such-session", tr.id);
  QVERIFY2(unknown.error_code() == grpc::StatusCode::NOT_FOUND, unknown.error_message());
  expectInvalid(analyze(auxId, "latent", tr.session, tr.id + 1000), "trace");
  expectInvalid(analyze(otherId, "latent", tr.session, tr.id), "another model");
  expectInvalid(analyze(auxId, "select", tr.session, tr.id), "reads no given trace");
  for (const char* own : {"patch", "knockout", "contrast", "routing"})
    expectInvalid(analyze(auxId, own, tr.session, tr.id), "reads no given trace");
}

#endif

LL_TEST_MAIN("tst_remote_analyze_trace")
