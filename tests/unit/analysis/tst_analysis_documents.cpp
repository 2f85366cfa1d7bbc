// The inverse parsers of the analysis documents a server sends the GUI (patch_document.h,
// knockout_document.h, selection_document.h's PromptDistill, expert_contrast_parse.h): a result
// written and read back is the same bit for bit (doubles dump with 17 digits), and hostile
// documents (wrong sizes, wrong types, missing fields, values out of the model's range) are
// std::invalid_argument naming the field or array.
#include <cstring>
#include <functional>

#include "lltest.h"
#include "runtime/analysis/expert_contrast_parse.h"
#include "runtime/analysis/knockout_document.h"
#include "runtime/analysis/patch_document.h"
#include "runtime/analysis/selection_document.h"

namespace {

using namespace ll::rt::ana;
using Json = nlohmann::json;

ll::rt::ModelSpec spec() {
  ll::rt::ModelSpec s;
  s.nLayer = 3;
  s.nHead = 2;
  s.nVocab = 50;
  s.nEmbd = 8;
  s.nExpert = 4;
  s.nExpertUsed = 2;
  return s;
}

template <class T>
bool sameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Values no short decimal holds, so a rounding writer or reader shows.
PatchingResult patchResult() {
  PatchingResult r;
  r.nLayer = 3;
  r.nTokens = 4;
  r.nHead = 2;
  r.request.metric = PatchMetric::Prob;
  r.request.target = 17;
  r.request.other = 3;
  r.clean = {1, 2, 3, 4};
  r.corrupted = {1, 2, 9, 4};
  r.firstDiff = 2;
  r.metricClean = 0.1 + 0.2;
  r.metricCorrupt = 1.0 / 3.0;
  for (int i = 0; i < 12; ++i) {
    r.effect.push_back(float(i) / 7.0f);
    r.metric.push_back(float(i) * 1.1f - 0.3f);
  }
  for (int i = 0; i < 6; ++i) {
    r.headEffect.push_back(float(i) / 3.0f);
    r.headMetric.push_back(-float(i) / 9.0f);
  }
  r.passes = 14;
  return r;
}

PatchingRequest sent() {
  PatchingRequest q;
  q.metric = PatchMetric::Prob;
  return q;
}

// The message of parsing doc (changed by edit) and arrays, or "" when accepted.
std::string patchRefusal(const std::function<void(Json&)>& edit,
                         const std::function<void(std::vector<OutputArray>&)>& editArrays = {}) {
  const PatchingResult r = patchResult();
  AnalysisOutput out = patchOutput(r);
  Json j = Json::parse(out.document);
  if (edit) edit(j);
  if (editArrays) editArrays(out.arrays);
  try {
    parsePatchOutput(j.dump(), out.arrays, sent(), r.clean, r.corrupted, spec());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

bool mentions(const std::string& what, const std::string& name) {
  return !what.empty() && what.find(name) != std::string::npos;
}

KnockoutReadout knockoutResult(bool swept) {
  KnockoutReadout r;
  r.effect = {1, 3, 42, 0.1 + 0.2, 2.0 / 7.0, 100.0 * (2.0 / 7.0 - 0.3) / 0.3};
  if (!swept) return r;
  r.window = 2;
  r.sweep = {1.0 / 3.0, -2.0 / 9.0, 5e-17};
  r.sweepPNew = {0.123456789012345678, 1e-300, 0.5};
  r.sweepLayers = {{0, 1}, {0, 2}, {1, 3}};
  return r;
}

std::string knockoutRefusal(const std::function<void(Json&)>& edit) {
  const KnockoutReadout r = knockoutResult(true);
  Json j = knockoutDocument(spec(), {3}, {0, 1}, r.effect, " cat", &r);
  edit(j);
  try {
    parseKnockoutDocument(j.dump(1), spec(), true);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

SelectionRequest distillRequest() {
  SelectionRequest q;
  q.method = SelectionMethod::PromptDistill;
  q.stages = "0:4,2:2";
  q.kernel = 1;
  return q;
}

// A two-stage PromptDistill document of a 6-token prompt as selectionDocument writes it.
Json distillDocument() {
  const SelectionParams p = resolveSelection(distillRequest(), 6, 3);
  Json j;
  j["method"] = "promptdistill";
  j["params"] = p.record();
  j["warnings"] = std::vector<std::string>{"a warning"};
  j["k_used"] = 2;
  j["reason"] = "why";
  j["kept"] = {1, 5};
  j["scores"] = {0.25f, 1.0f / 3.0f, 0.125f, 7.0f / 9.0f};
  j["kept_per_stage"] = {{0, 1, 3, 5}, {1, 5}};
  j["scores_per_stage"] = {{0.1f, 0.2f, 1.0f / 7.0f, 0.3f, 0.0f, 5.5f},
                           {0.25f, 1.0f / 3.0f, 0.125f, 7.0f / 9.0f}};
  j["survivors_per_layer"] = {6, 4, 4};
  j["kv_trim"] = 0;
  return j;
}

std::string distillRefusal(const std::function<void(Json&)>& edit) {
  Json j = distillDocument();
  edit(j);
  try {
    parsePromptDistillDocument(j.dump(1), distillRequest(), 6, spec());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

ExpertContrastRequest contrastRequest() {
  ExpertContrastRequest q;
  q.task = {"a", "b"};
  q.neutral = {"c"};
  q.tau = 0.15f;
  q.layers = ContrastLayers::Middle;
  return q;
}

ExpertContrastResult contrast() {
  ExpertContrastResult r;
  r.nLayer = 3;
  r.nExpert = 4;
  r.nExpertUsed = 2;
  r.request = contrastRequest();
  r.nTask = 2;
  r.nNeutral = 1;
  r.pickLayers = {1};
  for (int i = 0; i < 12; ++i) {
    r.taskFreq.push_back(float(i) / 7.0f);
    r.neutralFreq.push_back(float(i) / 11.0f);
    r.delta.push_back(r.taskFreq.back() - r.neutralFreq.back());
  }
  r.picked = {{1, 2}, {1, 3}};
  return r;
}

std::string contrastRefusal(const std::function<void(Json&)>& edit) {
  Json j = expertContrastJson(contrast());
  edit(j);
  try {
    parseExpertContrastJson(j.dump(1), contrastRequest(), spec());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

}  // namespace

LL_TEST(expertContrastRoundTrips) {
  const ExpertContrastResult r = contrast();
  const ExpertContrastResult b =
      parseExpertContrastJson(expertContrastJson(r).dump(1), contrastRequest(), spec());
  QCOMPARE(b.nLayer, r.nLayer);
  QCOMPARE(b.nExpert, r.nExpert);
  QCOMPARE(b.nExpertUsed, r.nExpertUsed);
  QVERIFY(b.request == r.request);
  QCOMPARE(b.nTask, r.nTask);
  QCOMPARE(b.nNeutral, r.nNeutral);
  QVERIFY(b.pickLayers == r.pickLayers);
  QVERIFY(sameBits(b.taskFreq, r.taskFreq) && sameBits(b.neutralFreq, r.neutralFreq));
  QVERIFY(sameBits(b.delta, r.delta));
  QVERIFY(b.picked == r.picked);
}

LL_TEST(expertContrastRefusesHostileDocuments) {
  const auto why = contrastRefusal;
  QVERIFY(why([](Json&) {}).empty());
  QVERIFY(mentions(why([](Json& j) { j["n_expert"] = 5; }), "'n_expert'"));
  QVERIFY(mentions(why([](Json& j) { j["n_task"] = 3; }), "'n_task'"));
  QVERIFY(mentions(why([](Json& j) { j["tau"] = 0.5; }), "'tau'"));
  QVERIFY(mentions(why([](Json& j) { j["layers"] = "all"; }), "'layers'"));
  QVERIFY(mentions(why([](Json& j) { j["pick_layers"] = {3}; }), "'pick_layers'"));
  QVERIFY(mentions(why([](Json& j) { j["delta"].erase(0); }), "'delta'"));
  QVERIFY(mentions(why([](Json& j) { j["task_freq"][1].push_back(0); }), "'task_freq'"));
  QVERIFY(mentions(why([](Json& j) { j["neutral_freq"][2][0] = "x"; }), "'neutral_freq'"));
  QVERIFY(mentions(why([](Json& j) { j["picked"][0]["expert"] = 4; }), "'expert'"));
  QVERIFY(mentions(why([](Json& j) { j["picked"] = 1; }), "'picked'"));
}

LL_TEST(promptDistillDocumentRoundTrips) {
  const Json j = distillDocument();
  const SelectionOutcome o = parsePromptDistillDocument(j.dump(1), distillRequest(), 6, spec());
  QVERIFY(o.params.record() == resolveSelection(distillRequest(), 6, 3).record());
  QVERIFY((o.kept() == std::vector<int>{1, 5}));
  QVERIFY((o.distill.keptPerStage == std::vector<std::vector<int>>{{0, 1, 3, 5}, {1, 5}}));
  const std::vector<float> first{0.1f, 0.2f, 1.0f / 7.0f, 0.3f, 0.0f, 5.5f};
  QVERIFY(sameBits(o.tokenScores, first));  // the first stage scores every position
  QVERIFY(
      sameBits(o.selection.scores, std::vector<float>{0.25f, 1.0f / 3.0f, 0.125f, 7.0f / 9.0f}));
  QVERIFY((o.distill.survivorsPerLayer == std::vector<int>{6, 4, 4}));
  QCOMPARE(o.reason, std::string("why"));
  QVERIFY((o.warnings == std::vector<std::string>{"a warning"}));
}

LL_TEST(promptDistillDocumentRefusesHostileDocuments) {
  QVERIFY(distillRefusal([](Json&) {}).empty());
  QVERIFY(mentions(distillRefusal([](Json& j) { j["method"] = "h2o"; }), "'method'"));
  QVERIFY(mentions(distillRefusal([](Json& j) { j["params"]["k"] = "9"; }), "'params'"));
  QVERIFY(mentions(distillRefusal([](Json& j) { j.erase("kept_per_stage"); }), "'kept_per_stage'"));
  QVERIFY(mentions(distillRefusal([](Json& j) { j["kept_per_stage"][0].push_back(6); }),
                   "'kept_per_stage'"));
  QVERIFY(mentions(distillRefusal([](Json& j) { j["kept_per_stage"].push_back({1}); }),
                   "'kept_per_stage'"));
  QVERIFY(mentions(distillRefusal([](Json& j) {
                     j["scores_per_stage"][0] = Json::array({1, 2, 3, 4, 5, 6, 7});
                   }),
                   "'scores_per_stage'"));
  QVERIFY(mentions(distillRefusal([](Json& j) { j["scores_per_stage"][1][0] = "x"; }),
                   "'scores_per_stage'"));
  QVERIFY(mentions(distillRefusal([](Json& j) {
                     j["survivors_per_layer"] = {6, 4};
                   }),
                   "'survivors_per_layer'"));
  QVERIFY(mentions(distillRefusal([](Json& j) { j["kept"] = {1, 4}; }), "'kept'"));
  QVERIFY(mentions(distillRefusal([](Json& j) { j["kept"] = {-1}; }), "'kept'"));
  QVERIFY(mentions(distillRefusal([](Json& j) { j["warnings"] = {3}; }), "'warnings'"));
  QVERIFY(mentions(distillRefusal([](Json& j) { j["reason"] = 3; }), "'reason'"));
}

LL_TEST(patchDocumentRoundTrips) {
  const PatchingResult r = patchResult();
  const AnalysisOutput out = patchOutput(r);
  const PatchingResult b =
      parsePatchOutput(out.document, out.arrays, sent(), r.clean, r.corrupted, spec());
  QCOMPARE(b.nLayer, r.nLayer);
  QCOMPARE(b.nTokens, r.nTokens);
  QCOMPARE(b.nHead, r.nHead);
  QVERIFY(b.request == r.request);
  QVERIFY(b.clean == r.clean && b.corrupted == r.corrupted);
  QCOMPARE(b.firstDiff, r.firstDiff);
  QVERIFY(std::memcmp(&b.metricClean, &r.metricClean, sizeof(double)) == 0);
  QVERIFY(std::memcmp(&b.metricCorrupt, &r.metricCorrupt, sizeof(double)) == 0);
  QVERIFY(sameBits(b.effect, r.effect) && sameBits(b.metric, r.metric));
  QVERIFY(sameBits(b.headEffect, r.headEffect) && sameBits(b.headMetric, r.headMetric));
  QCOMPARE(b.passes, r.passes);
  // Noise corruption: the corrupted ids are the clean ones, as activationPatching gives them.
  const PatchingResult n = parsePatchOutput(out.document, out.arrays, sent(), r.clean, {}, spec());
  QVERIFY(n.corrupted == r.clean);
}

LL_TEST(patchDocumentRefusesHostileDocuments) {
  QVERIFY(patchRefusal({}).empty());
  QVERIFY(mentions(patchRefusal([](Json& j) { j.erase("metric_clean"); }), "'metric_clean'"));
  QVERIFY(mentions(patchRefusal([](Json& j) { j["n_layer"] = 4; }), "'n_layer'"));
  QVERIFY(mentions(patchRefusal([](Json& j) { j["n_tokens"] = "4"; }), "'n_tokens'"));
  QVERIFY(mentions(patchRefusal([](Json& j) { j["target"] = 50; }), "'target'"));
  QVERIFY(mentions(patchRefusal([](Json& j) { j["other"] = -1; }), "'other'"));
  QVERIFY(mentions(patchRefusal([](Json& j) { j["first_diff"] = 5; }), "'first_diff'"));
  QVERIFY(mentions(patchRefusal([](Json& j) { j["passes"] = 1.5; }), "'passes'"));
  QVERIFY(mentions(patchRefusal([](Json& j) { j["metric"] = "logit-diff"; }), "'metric'"));
  QVERIFY(mentions(patchRefusal([](Json& j) { j["direction"] = 3; }), "'direction'"));
  QVERIFY(mentions(patchRefusal([](Json& j) { j = Json::array(); }), "not a JSON object"));
  QVERIFY(mentions(patchRefusal({}, [](auto& a) { a[0].data.pop_back(); }), "'effect'"));
  QVERIFY(mentions(patchRefusal({}, [](auto& a) { a[1].shape = {4, 3}; }), "'metric'"));
  QVERIFY(mentions(patchRefusal({}, [](auto& a) { a.pop_back(); }), "'head_metric'"));
  QVERIFY(mentions(patchRefusal({}, [](auto& a) { a[2].shape = {3, 3}; }), "'heads'"));
  QVERIFY(mentions(patchRefusal({}, [](auto& a) { a.clear(); }), "missing"));
  try {
    parsePatchOutput("{\"n_layer\": ", {}, sent(), {1}, {}, spec());
    QFAIL("truncated JSON accepted");
  } catch (const std::invalid_argument& e) {
    QVERIFY(mentions(e.what(), "not JSON"));
  }
}

LL_TEST(knockoutDocumentRoundTrips) {
  for (const bool swept : {false, true}) {
    const KnockoutReadout r = knockoutResult(swept);
    const std::string doc =
        knockoutDocument(spec(), {3}, {0, 1}, r.effect, " cat", swept ? &r : nullptr).dump(1);
    const KnockoutReadout b = parseKnockoutDocument(doc, spec(), swept);
    QCOMPARE(b.effect.layerBegin, r.effect.layerBegin);
    QCOMPARE(b.effect.layerEnd, r.effect.layerEnd);
    QCOMPARE(b.effect.answer, r.effect.answer);
    QVERIFY(std::memcmp(&b.effect.pBase, &r.effect.pBase, sizeof(double)) == 0);
    QVERIFY(std::memcmp(&b.effect.pNew, &r.effect.pNew, sizeof(double)) == 0);
    QVERIFY(std::memcmp(&b.effect.relativeChange, &r.effect.relativeChange, sizeof(double)) == 0);
    QCOMPARE(b.window, r.window);
    QVERIFY(sameBits(b.sweep, r.sweep) && sameBits(b.sweepPNew, r.sweepPNew));
    QVERIFY(b.sweepLayers == r.sweepLayers);
  }
}

LL_TEST(knockoutDocumentRefusesHostileDocuments) {
  QVERIFY(knockoutRefusal([](Json&) {}).empty());
  QVERIFY(mentions(knockoutRefusal([](Json& j) { j.erase("p_new"); }), "'p_new'"));
  QVERIFY(mentions(knockoutRefusal([](Json& j) { j["p_base"] = "0.5"; }), "'p_base'"));
  QVERIFY(mentions(knockoutRefusal([](Json& j) { j["layers"] = {2, 9}; }), "'layers'"));
  QVERIFY(mentions(knockoutRefusal([](Json& j) { j["layers"] = {2}; }), "'layers'"));
  QVERIFY(mentions(knockoutRefusal([](Json& j) { j["answer"] = 4; }), "'answer'"));
  QVERIFY(mentions(knockoutRefusal([](Json& j) { j["answer"]["id"] = 50; }), "'id'"));
  QVERIFY(mentions(knockoutRefusal([](Json& j) { j["window"] = 0; }), "'window'"));
  QVERIFY(mentions(knockoutRefusal([](Json& j) { j["sweep"].push_back(1.0); }), "'sweep'"));
  QVERIFY(mentions(knockoutRefusal([](Json& j) { j["sweep_p_new"][0] = "x"; }), "'sweep_p_new'"));
  QVERIFY(mentions(knockoutRefusal([](Json& j) {
                     j["sweep_layers"][1] = {3, 1};
                   }),
                   "'sweep_layers'"));
  QVERIFY(mentions(knockoutRefusal([](Json& j) { j.erase("sweep_layers"); }), "'sweep_layers'"));
}

LL_TEST_MAIN("tst_analysis_documents")
