// The JSON forms of the command analyses (patch, knockout, steer-sweep, contrast, compare, routing,
// steer-vector; runtime/analysis/analysis_requests.h) without a server: every field survives the
// round trip (floats bit for bit, so a remote run computes on the values a local one does), and
// unknown fields, wrong types, long arrays and values out of range are std::invalid_argument
// naming the field.
#include <cstring>

#include "lltest.h"
#include "runtime/analysis/analysis_call.h"

namespace {

using namespace ll::rt::ana;
using Json = nlohmann::json;

// What a client sends and a server reads back: the same request, field for field.
void roundTrips(const AnalysisRequest& req) {
  const Json sent = analysisRequestJson(req);
  const AnalysisRequest back = parseAnalysisRequest(analysisName(req), Json::parse(sent.dump()));
  QCOMPARE(back.index(), req.index());
  QVERIFY2(analysisRequestJson(back) == sent, sent.dump().c_str());
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void refused(const std::string& name, const std::string& json, const std::string& names) {
  try {
    parseAnalysisRequest(name, Json::parse(json));
  } catch (const std::invalid_argument& e) {
    QVERIFY2(std::string(e.what()).find(names) != std::string::npos, e.what());
    return;
  }
  QFAIL((name + " " + json + " was accepted").c_str());
}

}  // namespace

LL_TEST(commandRequestsRoundTrip) {
  PatchCall p;
  p.request.metric = PatchMetric::Prob;
  p.request.component = PatchComponent::Mlp;
  p.request.direction = PatchDirection::Noise;
  p.request.target = 12;
  p.request.other = 7;
  p.request.heads = false;
  p.request.noiseBegin = 1;
  p.request.noiseEnd = 3;
  p.request.noiseScale = 2.5f;
  p.request.noiseSeed = 1ull << 40;
  p.clean = "Once upon";
  p.corruptIds = {1, 5, 9};
  p.addBos = 0;
  roundTrips(p);
  roundTrips(KnockoutCall{"0-2", "last", 3, 5, 42, true});
  SteerSweepCall s;
  s.request.layer = 2;
  s.request.alpha = -3.25f;
  s.request.fromPos = 4;
  s.request.position = 6;
  s.request.alphas = {0.0f, 1.0f / 3.0f, -16.0f};
  s.request.layerSweep = false;
  s.vector = {1.0f / 3.0f, 1e-30f, -7.1e37f, 0.1f, -0.0f};
  roundTrips(s);
  ExpertContrastRequest c;
  c.task = {"one", "two"};
  c.neutral = {"three"};
  c.tau = 0.05f;
  c.layers = ContrastLayers::Middle;
  c.lambda = 1.5f;
  c.promoteMiddleOnly = false;
  roundTrips(c);
  roundTrips(CompareCall{"teacher.gguf", {0.25f, 0.125f}});
  RoutingCall r;
  r.coverage = 0.8f;
  r.compareText = "Tom had a ball";
  r.addBos = 1;
  r.task = {"a"};
  r.neutral = {"b"};
  r.tau = 0.2f;
  r.allLayers = true;
  r.dump = "out/dump";
  roundTrips(r);
  SteerVectorCall v;
  v.method = "concept";
  v.layer = 3;
  v.conceptWord = "cat";
  v.tmpl = "A {word}";
  v.baselines = {"dog", "tree"};
  v.out = "v.gguf";
  v.readoutAlpha = 4.0f;
  v.from = 2;
  v.gen = 5;
  roundTrips(v);
  // The vector's floats arrive bit for bit (JSON doubles, printed to round-trip).
  const auto back = std::get<SteerSweepCall>(
      parseAnalysisRequest("steer-sweep", Json::parse(analysisRequestJson(s).dump())));
  QVERIFY(sameBits(back.vector, s.vector));
  QVERIFY(sameBits(back.request.alphas, s.request.alphas));
}

LL_TEST(badCommandRequestsRefused) {
  for (const char* name :
       {"patch", "knockout", "steer-sweep", "contrast", "compare", "routing", "steer-vector"}) {
    refused(name, R"({"typo": 1})", "unknown field 'typo'");
    refused(name, "[]", "must be a JSON object");
  }
  refused("patch", R"({"metric": "kl"})", "metric 'kl'");
  refused("patch", R"({"clean_ids": [1, 2.5]})", "field 'clean_ids' must be an integer");
  refused("patch", R"({"corrupt_ids": {"a": 1}})", "field 'corrupt_ids' must be an array");
  refused("patch", R"({"add_bos": -2})", "field 'add_bos' -2 is out of range");
  refused("patch", R"({"noise_seed": -5})", "field 'noise_seed'");
  refused("patch", R"({"noise_scale": 1e39})", "field 'noise_scale' must be a finite float");
  refused("knockout", R"({"to": ["last"]})", "field 'to' must be a string");
  refused("knockout", R"({"layer": 1e3})", "field 'layer' must be an integer");
  refused("steer-sweep", R"({"from": -1})", "field 'from' -1 is out of range");
  refused("steer-sweep", R"({"vector": [1, "2"]})", "field 'vector' must be a number");
  refused("steer-sweep", Json{{"alphas", std::vector<int>(5000, 1)}}.dump(),
          "field 'alphas' has 5000 elements, at most 4096");
  refused("contrast", R"({"neutral": "a"})", "field 'neutral' must be an array");
  refused("contrast", R"({"layers": "first"})", "layers 'first'");
  refused("compare", R"({})", "field 'teacher'");
  refused("compare", R"({"teacher": "t.gguf", "jsd_threshold": "high"})",
          "field 'jsd_threshold' must be a number");
  refused("routing", R"({"coverage": 0})", "field 'coverage'");
  refused("routing", R"({"all_layers": 1})", "field 'all_layers' must be true or false");
  refused("steer-vector", R"({"method": "pca"})", "field 'method'");
  refused("steer-vector", R"({"gen": 70000})", "field 'gen' 70000 is out of range");
  refused("steer-vector", R"({"baselines": [["dog"]]})", "field 'baselines'");
  refused("nonesuch", "{}", "unknown analysis 'nonesuch'");
}

LL_TEST_MAIN("tst_analysis_requests")
