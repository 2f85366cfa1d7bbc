// The guided demo presets in resources/demos: every one parses, has its teacher text and a model
// that resolves; the claims their teacher texts make are checked through the engine (knockout
// removes the induction stripe and the predictions, banning expert 0 reroutes the vowels).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "lltest.h"
#include "runtime/api/session.h"
#include "runtime/demo/demo_model.h"
#include "runtime/demo/demo_presets.h"

namespace fs = std::filesystem;
using namespace ll::rt;

namespace {

fs::path demosDir() {
  const char* src = std::getenv("LAYERLENS_SOURCE_DIR");
  if (!src) QSKIP("LAYERLENS_SOURCE_DIR not set (run through ctest)");
  return fs::path(src) / "resources" / "demos";
}

fs::path cacheDir() {
  return fs::temp_directory_path() / ("ll_presets_" + std::to_string(getpid()));
}

const demo::DemoPreset& preset(const std::vector<demo::DemoPreset>& all, const std::string& id) {
  for (const auto& p : all)
    if (p.id == id) return p;
  throw std::runtime_error("no preset " + id);
}

std::vector<demo::DemoPreset>& presets() {
  static std::vector<demo::DemoPreset> p = demo::loadDemoPresets(demosDir());
  return p;
}

Session& demoSession() {
  static Session s;
  if (!s.loaded()) {
    const auto model = demo::resolveDemoModel(demo::kBuiltinModel, cacheDir(), {});
    s.load(*model, parseBackend("cpu", 1));
  }
  return s;
}

}  // namespace

LL_TEST(everyPresetLoads) {
  const auto& all = presets();
  QVERIFY(all.size() >= 9);
  for (size_t i = 1; i < all.size(); ++i) QVERIFY(all[i - 1].order <= all[i].order);
  for (const auto& p : all) {
    QVERIFY2(!p.title.empty() && p.teacherText.size() > 100, p.id);
    QVERIFY2(!p.session.prompt.empty(), p.id);
    const std::vector<std::string> views = {"attention", "headgrid", "lens", "routing",
                                            "selection"};
    QVERIFY2(std::find(views.begin(), views.end(), p.session.view.activeView) != views.end(), p.id);
    if (p.session.modelPath == demo::kBuiltinModel) {
      // The preset's layer/head exist in the demo model and its prompt runs.
      QVERIFY(p.session.view.layer >= 0 && p.session.view.layer < 2);
      QVERIFY(p.session.view.head >= -1 && p.session.view.head < 2);
      Session& s = demoSession();
      s.setPrompt(p.session.prompt, p.session.addBos);
      RunRequest req;
      req.interventions = p.session.interventions;
      auto tr = s.run(req);
      QVERIFY(tr->nTokens > 3);
    } else {
      QVERIFY2(p.session.modelPath.rfind("shared:", 0) == 0, p.id);
    }
  }
}

LL_TEST(storiesPresetNeedsTheSharedModel) {
  const auto& p = preset(presets(), "stories-logit-lens");
  const auto resolved = demo::resolveDemoModel(p.session.modelPath, cacheDir(), {"/nonexistent"});
  QVERIFY(!resolved);  // unavailable without the shared folder
  LL_REQUIRE_SHARED();
  const auto real = demo::resolveDemoModel(p.session.modelPath, cacheDir(), {lltest::sharedDir()});
  QVERIFY(real.has_value());
  Session s;
  s.load(*real, parseBackend("cpu", 1));
  s.setPrompt(p.session.prompt);
  QVERIFY(s.run()->nTokens >= 4);
}

LL_TEST(knockoutPresetRemovesTheInductionStripe) {
  const auto& p = preset(presets(), "knockout-induction");
  Session& s = demoSession();
  s.setPrompt(p.session.prompt);
  const auto& ko = *p.session.interventions.knockout;
  auto plain = s.run();
  // The preset's indices are the second copy (from) and the first copy (to).
  QCOMPARE(ko.from.size() + 1, ko.to.size());
  for (size_t i = 0; i < ko.from.size(); ++i)
    QCOMPARE(plain->ids[size_t(ko.from[i])], plain->ids[size_t(ko.to[i])]);
  auto countRight = [](const Trace& tr, int from, int to) {
    int right = 0;
    for (int i = from; i < to; ++i) {
      const float* row = tr.logitsRow(i);
      right += int(std::max_element(row, row + tr.nVocab) - row) == tr.ids[size_t(i + 1)];
    }
    return right;
  };
  const int first = ko.from.front(), last = ko.from.back();
  QCOMPARE(countRight(*plain, first, last), last - first);
  const auto map = s.attentionMap(*plain, 1, 0);
  const int T = plain->nTokens;
  QVERIFY(map[size_t(first) * T + ko.to[1]] > 0.9f);  // the token after the first copy's x

  RunRequest req;
  req.interventions = p.session.interventions;
  auto knocked = s.run(req);
  QCOMPARE(countRight(*knocked, first, last), 0);
  const auto kmap = s.attentionMap(*knocked, 1, 0);
  for (int i = first; i <= last; ++i) {
    float toFirstCopy = 0.0f;
    for (int j : ko.to) toFirstCopy += kmap[size_t(i) * T + j];
    QVERIFY(toFirstCopy < 0.01f);
    QVERIFY(kmap[size_t(i) * T + 0] > 0.9f);  // back on <s>
  }
}

LL_TEST(routerBanPresetReroutesVowels) {
  const auto& p = preset(presets(), "router-ban");
  Session& s = demoSession();
  s.setPrompt(p.session.prompt);
  RunRequest req;
  req.interventions = p.session.interventions;
  auto tr = s.run(req);
  const auto& L = tr->layers[size_t(demo::kMoeLayer)];
  int vowels = 0;
  for (int t = 0; t < tr->nTokens; ++t) {
    QVERIFY(L.experts[size_t(t)] != 0);
    vowels += demo::classOfPiece(tr->pieces[size_t(t)]) == demo::CharClass::Vowel;
  }
  QVERIFY(vowels >= 5);
}

LL_TEST(badPresetsAreRefused) {
  bool threw = false;
  try {
    demo::parseDemoPreset(R"({"format": "layerlens-session", "version": 1, "model": "m",
                              "prompt": "p"})",
                          "x", "x.json");
  } catch (const std::runtime_error& e) {
    threw = std::string(e.what()).find("no \"demo\" object") != std::string::npos;
  }
  QVERIFY(threw);
  threw = false;
  try {
    demo::parseDemoPreset(R"({"format": "layerlens-session", "version": 1, "model": "m",
                              "prompt": "p", "demo": {"title": "t", "teacher": "../etc/passwd"}})",
                          "x", "x.json");
  } catch (const std::runtime_error&) {
    threw = true;
  }
  QVERIFY(threw);
  QVERIFY(!demo::resolveDemoModel("shared:../../etc/passwd", cacheDir(), {"/tmp"}));
}

LL_TEST_MAIN("tst_demo_presets")
