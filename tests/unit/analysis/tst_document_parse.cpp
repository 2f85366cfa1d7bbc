// The result documents read back (attribution, layer skip, latent language, flow graph, steering
// sweeps): what a
// server's Analyze sends the GUI. A document written by the analysis of stories260K parses to the
// result the analysis returned, bit for bit (doubles, floats and ids); the layer skip's every-
// position values move the result as selectPosition on the trace does; hostile documents (wrong
// sizes, wrong types, missing fields, ids outside the vocabulary) are std::invalid_argument naming
// the field.
#include <cstring>
#include <functional>

#include "ana_common.h"
#include "runtime/analysis/analysis_call.h"
#include "runtime/analysis/attribution.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/analysis/latent_language.h"
#include "runtime/analysis/layer_skip.h"
#include "runtime/analysis/steering_sweep.h"

using namespace ll::rt;
using namespace ll::rt::ana;
using Json = nlohmann::json;

namespace {

template <class T>
bool sameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}
bool sameBits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

std::unique_ptr<Session> stories() {
  auto s = anatest::session("stories260K.gguf", "", "");
  s->setPrompt("Once upon a time there was a little girl named Lily");
  return s;
}

// parse() of doc with one change made by edit refuses it, naming `field`.
void refused(const Json& doc, const std::function<void(Json&)>& edit, const std::string& field,
             const std::function<void(const Json&)>& parse) {
  Json bad = doc;
  edit(bad);
  try {
    parse(bad);
  } catch (const std::invalid_argument& e) {
    QVERIFY2(std::string(e.what()).find(field) != std::string::npos, e.what());
    return;
  }
  QFAIL(("a document with a bad '" + field + "' was accepted").c_str());
}

}  // namespace

LL_TEST(attributionDocumentRoundTrips) {
  LL_REQUIRE_SHARED();
  auto s = stories();
  const int T = int(s->promptIds().size()), L = s->model().spec.nLayer, H = s->model().spec.nHead,
            V = s->model().spec.nVocab;
  Interventions iv;
  iv.knockout = Knockout{{}, {1}, 0, 2, 5};
  RunRequest base;
  base.interventions = iv;
  const AnalysisOutput out = runAnalysis(*s, AttributionRequest{12, 7, 3}, base);
  const Attribution& a = std::get<Attribution>(out.result);
  const Json doc = Json::parse(out.document);
  const Attribution b = parseAttributionJson(doc, L, H, V, T);
  QCOMPARE(b.nLayer, a.nLayer);
  QCOMPARE(b.nHead, a.nHead);
  QCOMPARE(b.position, 3);
  QCOMPARE(b.target, 12);
  QCOMPARE(b.other, 7);
  QVERIFY(sameBits(b.embed, a.embed) && sameBits(b.bias, a.bias) && sameBits(b.logit, a.logit));
  QVERIFY(sameBits(b.steering, a.steering) && sameBits(b.modelLogit, a.modelLogit));
  QCOMPARE(b.softcapped, a.softcapped);
  QVERIFY(sameBits(b.attn, a.attn) && sameBits(b.mlp, a.mlp) && sameBits(b.heads, a.heads));
  QVERIFY(sameBits(b.total(), a.total()));
  // No second token: other is null.
  const Attribution one = parseAttributionJson(
      Json::parse(runAnalysis(*s, AttributionRequest{12, -1, -1}).document), L, H, V, T);
  QCOMPARE(one.other, -1);
  QCOMPARE(one.position, T - 1);

  const auto parse = [&](const Json& j) { parseAttributionJson(j, L, H, V, T); };
  refused(
      doc, [](Json& j) { j.erase("mlp"); }, "missing field 'mlp'", parse);
  refused(
      doc, [](Json& j) { j["attn"].push_back(1.0); }, "'attn'", parse);
  refused(
      doc, [](Json& j) { j["heads"][0].erase(0); }, "'heads'", parse);
  refused(
      doc, [](Json& j) { j["heads"] = Json::array(); }, "'heads'", parse);
  refused(
      doc, [](Json& j) { j["embed"] = "1"; }, "'embed'", parse);
  refused(
      doc, [&](Json& j) { j["target"] = V; }, "'target'", parse);
  refused(
      doc, [](Json& j) { j["other"] = -2; }, "'other'", parse);
  refused(
      doc, [&](Json& j) { j["position"] = T; }, "'position'", parse);
  refused(
      doc, [](Json& j) { j["softcapped"] = 1; }, "'softcapped'", parse);
  refused(
      doc, [](Json& j) { j = Json::array(); }, "not a JSON object", parse);
}

LL_TEST(layerSkipDocumentRoundTrips) {
  LL_REQUIRE_SHARED();
  auto s = stories();
  const int T = int(s->promptIds().size()), L = s->model().spec.nLayer, V = s->model().spec.nVocab;
  LayerSkipRequest rq;
  rq.position = 2;
  rq.part = SkipPart::Mlp;
  // Without all_positions the CLI's document is what it was: no every-position fields.
  const Json plain = Json::parse(runAnalysis(*s, rq).document);
  QVERIFY(!plain.contains("kl_all") && !plain.contains("top1_all"));
  {
    LayerSkipPositions none;
    bool threw = false;
    try {
      parseLayerSkipJson(plain, L, T, V, &none);
    } catch (const std::invalid_argument& e) {
      threw = std::string(e.what()).find("kl_all") != std::string::npos;
    }
    QVERIFY2(threw, "a document without kl_all gives no every-position values");
  }
  rq.allPositions = true;
  const AnalysisOutput out = runAnalysis(*s, rq);
  const LayerSkipResult& a = std::get<LayerSkipResult>(out.result);
  const Json doc = Json::parse(out.document);
  LayerSkipPositions at;
  const LayerSkipResult b = parseLayerSkipJson(doc, L, T, V, &at);
  QCOMPARE(b.nLayer, L);
  QCOMPARE(b.nTokens, T);
  QCOMPARE(b.position, 2);
  QVERIFY(b.part == SkipPart::Mlp);
  QCOMPARE(b.top1, a.top1);
  QVERIFY(sameBits(b.kl, a.kl) && sameBits(b.klMean, a.klMean) && sameBits(b.klAll, a.klAll));
  QVERIFY(sameBits(b.top1Skip, a.top1Skip) && sameBits(b.top1SkipAll, a.top1SkipAll));
  QVERIFY(sameBits(b.top1Changed, a.top1Changed) && sameBits(b.active, a.active));
  QVERIFY(sameBits(b.relUpdate, a.relUpdate) && sameBits(b.cosUpdate, a.cosUpdate));
  // Every other position: the values read from the document equal selectPosition on the trace.
  const auto tr = s->run();
  for (int p = 0; p < T; ++p) {
    LayerSkipResult onTrace = a, onDoc = b;
    selectPosition(*tr, onTrace, p);
    selectPosition(at, onDoc, p);
    QCOMPARE(onDoc.position, p);
    QCOMPARE(onDoc.top1, onTrace.top1);
    QVERIFY(sameBits(onDoc.kl, onTrace.kl) && sameBits(onDoc.top1Skip, onTrace.top1Skip));
    QVERIFY(sameBits(onDoc.top1Changed, onTrace.top1Changed));
    QVERIFY2(sameBits(onDoc.relUpdate, onTrace.relUpdate), "rel_update");
    QVERIFY2(sameBits(onDoc.cosUpdate, onTrace.cosUpdate), "cos_update");
    QVERIFY2(sameBits(onDoc.active, onTrace.active), "active");
  }
  LayerSkipResult moved = b;
  bool threw = false;
  try {
    selectPosition(at, moved, T);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  QVERIFY2(threw, "a position past the prompt is refused");

  const auto parse = [&](const Json& j) {
    LayerSkipPositions p;
    parseLayerSkipJson(j, L, T, V, &p);
  };
  refused(
      doc, [](Json& j) { j.erase("kl_mean"); }, "missing field 'kl_mean'", parse);
  refused(
      doc, [](Json& j) { j["n_layer"] = 99; }, "'n_layer'", parse);
  refused(
      doc, [](Json& j) { j["n_tokens"] = 1; }, "'n_tokens'", parse);
  refused(
      doc, [](Json& j) { j["sublayer"] = "ffn"; }, "'sublayer'", parse);
  refused(
      doc, [](Json& j) { j["kl"].erase(0); }, "'kl'", parse);
  refused(
      doc, [](Json& j) { j["kl_all"][1].push_back(0.5); }, "'kl_all'", parse);
  refused(
      doc, [](Json& j) { j["kl_all"].erase(0); }, "'kl_all'", parse);
  refused(
      doc, [&](Json& j) { j["top1_skip_all"][0][0] = V; }, "'top1_skip_all'", parse);
  refused(
      doc, [](Json& j) { j["top1_all"][0] = -1; }, "'top1_all'", parse);
  refused(
      doc, [](Json& j) { j["active_all"][0][0] = 1; }, "'active_all'", parse);
  refused(
      doc, [](Json& j) { j["rel_update_all"][0][0] = 1e300; }, "'rel_update_all'", parse);
  refused(
      doc, [](Json& j) { j["top1_changed"][0] = "yes"; }, "'top1_changed'", parse);
  refused(
      doc, [](Json& j) { j["cos_update"] = 0.5; }, "'cos_update'", parse);
}

LL_TEST(latentDocumentRoundTrips) {
  LL_REQUIRE_SHARED();
  auto s = stories();
  const int T = int(s->promptIds().size()), L = s->model().spec.nLayer, V = s->model().spec.nVocab;
  LatentLanguageRequest rq;
  rq.wordA = "girl";
  rq.wordB = "Lily";
  const AnalysisOutput out = runAnalysis(*s, rq);
  const LatentLanguageResult& a = std::get<LatentLanguageResult>(out.result);
  const Json doc = Json::parse(out.document);
  const LatentLanguageResult b = parseLatentLanguageJson(doc, L, T, V);
  QCOMPARE(b.nLayer, L);
  QCOMPARE(b.position, T - 1);
  QVERIFY(sameBits(b.a, a.a) && sameBits(b.b, a.b));
  QVERIFY(b.tokensA == a.tokensA && b.tokensB == a.tokensB);

  const auto parse = [&](const Json& j) { parseLatentLanguageJson(j, L, T, V); };
  refused(
      doc, [](Json& j) { j.erase("b"); }, "missing field 'b'", parse);
  refused(
      doc, [](Json& j) { j["a"].erase(0); }, "'a'", parse);
  refused(
      doc, [](Json& j) { j["layers"] = 1; }, "'layers'", parse);
  refused(
      doc, [](Json& j) { j["tokens_a"] = Json::array(); }, "'tokens_a'", parse);
  refused(
      doc,
      [](Json& j) {
        j["tokens_b"] = {1, 2, 3};
      },
      "'tokens_b'", parse);
  refused(
      doc, [&](Json& j) { j["tokens_b"] = {V}; }, "'tokens_b'", parse);
  refused(
      doc, [](Json& j) { j["position"] = -1; }, "'position'", parse);
}

LL_TEST(flowDocumentRoundTrips) {
  LL_REQUIRE_SHARED();
  auto s = stories();
  const int L = s->model().spec.nLayer;
  const std::vector<int32_t> ids = s->promptIds();
  FlowRequest rq;
  rq.threshold = 0.03;
  const AnalysisOutput out = runAnalysis(*s, rq);
  const FlowGraph& a = std::get<FlowGraph>(out.result);
  const Json doc = Json::parse(out.document);
  const FlowGraph b = parseFlowJson(doc, L, ids);
  QCOMPARE(b.nLayer, a.nLayer);
  QCOMPARE(b.nTokens, a.nTokens);
  QVERIFY(sameBits(b.threshold, a.threshold));
  QCOMPARE(b.pairsTotal, a.pairsTotal);
  QCOMPARE(b.pairsEvaluated, a.pairsEvaluated);
  QVERIFY(!a.edges.empty());
  QCOMPARE(b.edges.size(), a.edges.size());
  for (size_t k = 0; k < a.edges.size(); ++k) {
    const FlowEdge &x = a.edges[k], &y = b.edges[k];
    QVERIFY(x.layer == y.layer && x.kind == y.kind && x.src == y.src && x.dst == y.dst);
    QVERIFY(std::memcmp(&x.weight, &y.weight, sizeof(float)) == 0);
  }
  // The routes walked on the graph read back are the document's.
  const FlowRoutes r = flowRoutes(b, -1);
  QVERIFY(flowJson(b, r, ids) == doc);

  const auto parse = [&](const Json& j) { parseFlowJson(j, L, ids); };
  refused(
      doc, [](Json& j) { j.erase("edges"); }, "missing field 'edges'", parse);
  refused(
      doc, [](Json& j) { j["n_tokens"] = 2; }, "'n_tokens'", parse);
  refused(
      doc, [](Json& j) { j["tokens"][0] = 9; }, "'tokens'", parse);
  refused(
      doc, [](Json& j) { j["threshold"] = 1.5; }, "'threshold'", parse);
  refused(
      doc, [](Json& j) { j["pairs_evaluated"] = j["pairs_total"].get<int64_t>() + 1; },
      "'pairs_evaluated'", parse);
  refused(
      doc, [](Json& j) { j["edges"][0]["kind"] = "skip"; }, "edges[0]", parse);
  refused(
      doc, [&](Json& j) { j["edges"][0]["layer"] = L; }, "'layer'", parse);
  refused(
      doc, [](Json& j) { j["edges"][0]["src_token"] = 1000; }, "'src_token'", parse);
  refused(
      doc, [](Json& j) { j["edges"][0]["dst"] = 0; }, "'dst'", parse);
  refused(
      doc, [](Json& j) { j["edges"][0]["weight"] = "x"; }, "'weight'", parse);
  refused(
      doc, [](Json& j) { j["edges"][0] = 3; }, "edges[0]", parse);
}

namespace {

// A steering vector of the model's width with values of both signs (not a round number, so the
// sweeps' doubles use all their bits).
std::vector<float> testVector(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[size_t(i)] = 0.37f * float((i * 7) % 11) - 1.3f;
  return v;
}

}  // namespace

LL_TEST(steerSweepDocumentRoundTrips) {
  LL_REQUIRE_SHARED();
  auto s = stories();
  const int T = int(s->promptIds().size()), L = s->model().spec.nLayer, V = s->model().spec.nVocab;
  // Over a given trace (the GUI's prompt run, a knockout in force), as the server runs it.
  RunRequest run;
  run.interventions.knockout = Knockout{{}, {1}, 0, 2, 5};
  AnalysisEnv env;
  env.trace = s->run(run);
  SteerSweepCall c;
  c.vector = testVector(s->model().spec.nEmbd);
  c.request.layer = 2;
  c.request.alpha = -3.7f;
  c.request.fromPos = 1;
  c.request.position = 5;
  auto aux = anatest::session("stories260K.gguf", "", "");
  const AnalysisOutput out = runAnalysis(*aux, c, {}, {}, env);
  const SteeringSweepResult& a = std::get<SteeringSweepResult>(out.result);
  // The unsteered values are the given trace's (its knockout), not a plain run of aux's prompt.
  auto fresh = anatest::session("stories260K.gguf", "", "");
  const SteeringSweepResult direct = steeringSweep(*fresh, *env.trace, c.vector, c.request);
  QCOMPARE(a.top1Base, direct.top1Base);
  QVERIFY(sameBits(a.entropyBase, direct.entropyBase) && sameBits(a.pushRatio, direct.pushRatio));
  QCOMPARE(int(a.layerKl.size()), L);

  const Json doc = Json::parse(out.document);
  const SteeringSweepResult b = parseSteeringSweepJson(doc, L, T, V);
  QCOMPARE(b.nLayer, L);
  QCOMPARE(b.nTokens, T);
  QCOMPARE(b.position, 5);
  QCOMPARE(b.layer, 2);
  QCOMPARE(b.fromPos, 1);
  QVERIFY(std::memcmp(&b.alpha, &a.alpha, sizeof(float)) == 0);
  QVERIFY(b.reaches);
  QCOMPARE(b.top1Base, a.top1Base);
  QVERIFY(sameBits(b.entropyBase, a.entropyBase));
  QVERIFY2(sameBits(b.alphas, a.alphas), "alphas");
  QVERIFY2(sameBits(b.kl, a.kl) && sameBits(b.entropy, a.entropy), "kl / entropy");
  QVERIFY2(sameBits(b.top1, a.top1), "top1");
  QVERIFY2(sameBits(b.layerKl, a.layerKl) && sameBits(b.layerEntropy, a.layerEntropy), "layer_kl");
  QVERIFY2(sameBits(b.layerTop1, a.layerTop1), "layer_top1");
  QVERIFY2(sameBits(b.pushRatio, a.pushRatio), "push_ratio");
  QVERIFY(steeringSweepJson(b) == doc);
  // Without the layer sweep its arrays are empty; a position before the start does not reach.
  c.request.layerSweep = false;
  c.request.position = 1;
  c.request.fromPos = 2;
  const AnalysisOutput noLayers = runAnalysis(*aux, c, {}, {}, env);
  const SteeringSweepResult n = parseSteeringSweepJson(Json::parse(noLayers.document), L, T, V);
  QVERIFY(n.layerKl.empty() && n.layerEntropy.empty() && n.layerTop1.empty());
  QVERIFY(!n.reaches);
  QCOMPARE(int(n.pushRatio.size()), L);
  QVERIFY(sameBits(n.kl, std::get<SteeringSweepResult>(noLayers.result).kl));

  const auto parse = [&](const Json& j) { parseSteeringSweepJson(j, L, T, V); };
  refused(
      doc, [](Json& j) { j.erase("entropy"); }, "missing field 'entropy'", parse);
  refused(
      doc, [](Json& j) { j["n_layer"] = 99; }, "'n_layer'", parse);
  refused(
      doc, [](Json& j) { j["n_tokens"] = 1; }, "'n_tokens'", parse);
  refused(
      doc, [&](Json& j) { j["position"] = T; }, "'position'", parse);
  refused(
      doc, [&](Json& j) { j["layer"] = L; }, "'layer'", parse);
  refused(
      doc, [](Json& j) { j["from"] = -1; }, "'from'", parse);
  refused(
      doc, [](Json& j) { j["alpha"] = 1e300; }, "'alpha'", parse);
  refused(
      doc, [](Json& j) { j["reaches"] = false; }, "'reaches'", parse);
  refused(
      doc, [&](Json& j) { j["top1_base"] = V; }, "'top1_base'", parse);
  refused(
      doc, [](Json& j) { j["alphas"] = 2.0; }, "'alphas'", parse);
  refused(
      doc, [](Json& j) { j["alphas"] = std::vector<float>(kMaxSweepAlphas + 1, 1.0f); }, "'alphas'",
      parse);
  refused(
      doc, [](Json& j) { j["kl"].erase(0); }, "'kl'", parse);
  refused(
      doc, [](Json& j) { j["entropy"][1] = "x"; }, "'entropy'", parse);
  refused(
      doc, [](Json& j) { j["top1"][0] = -1; }, "'top1'", parse);
  refused(
      doc, [](Json& j) { j["layer_kl"].erase(0); }, "'layer_kl'", parse);
  refused(
      doc, [](Json& j) { j["layer_kl"] = Json::array(); }, "'layer_entropy'", parse);
  refused(
      doc, [&](Json& j) { j["layer_top1"][0] = V; }, "'layer_top1'", parse);
  refused(
      doc, [](Json& j) { j["push_ratio"] = Json::array(); }, "'push_ratio'", parse);
  refused(
      doc, [](Json& j) { j = Json::array(); }, "not a JSON object", parse);
}

LL_TEST_MAIN("tst_document_parse")
