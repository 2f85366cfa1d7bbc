// Bad input to the analyses gives clear exceptions, never a crash: spans, stage lists, layer and
// token ranges, selection budgets, and control-vector files with garbage, a wrong architecture or
// misnamed tensors.
#include <fstream>
#include <functional>
#include <random>

#include "ana_common.h"
#include "runtime/analysis/control_vector.h"
#include "runtime/analysis/knockout.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/steering.h"
#include "runtime/analysis/token_selection.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {
// True when f throws a std::exception whose message contains `part`.
bool throwsWith(const std::function<void()>& f, const std::string& part) {
  try {
    f();
  } catch (const std::exception& e) {
    return std::string(e.what()).find(part) != std::string::npos;
  }
  return false;
}
}  // namespace

LL_TEST(spansAndStages) {
  QVERIFY(throwsWith([] { parseSpan("", 5); }, "names no tokens"));
  QVERIFY(throwsWith([] { parseSpan("x", 5); }, "not an index"));
  QVERIFY(throwsWith([] { parseSpan("4-2", 5); }, "backwards"));
  QVERIFY(throwsWith([] { parseSpan("7", 5); }, "out of range"));
  QVERIFY(throwsWith([] { parseSpan("-9", 5); }, "out of range"));
  QVERIFY(throwsWith([] { parseSpan("1-99999999999", 5); }, "not an index"));
  QVERIFY(throwsWith([] { parseStages(""); }, "no PromptDistill stages"));
  QVERIFY(throwsWith([] { parseStages("3"); }, "LAYER:K"));
  QVERIFY(throwsWith([] { parseStages("3:x"); }, "LAYER:K"));
  QVERIFY(throwsWith([] { parseStages("3:-1"); }, "LAYER:K"));
  QVERIFY(throwsWith([] { knockoutWindow(5, 9, 5); }, "layer out of range"));
  QVERIFY(throwsWith([] { knockoutWindow(1, 0, 5); }, "window"));
}

LL_TEST(selectionArguments) {
  std::vector<float> q(8, 1.0f), k(8, 1.0f);
  QkView v;
  v.q = q.data();
  v.k = k.data();
  v.T = 4;
  v.nHead = 2;
  v.nHeadKv = 1;
  v.headDim = 1;
  QVERIFY(throwsWith([&] { gemFilter(v, 0); }, "k must be positive"));
  QVERIFY(throwsWith([&] { promptDistillStage(v, {}, 2); }, "no candidate"));
  QVERIFY(throwsWith([&] { promptDistillStage(v, {2, 1}, 2); }, "ascending"));
  QVERIFY(throwsWith([&] { promptDistillStage(v, {0, 9}, 2); }, "ascending indices in range"));
  QVERIFY(throwsWith([] { h2o({1, 2, 3}, 4, 1, 1, 1); }, "wrong size"));
  v.nHeadKv = 3;  // 2 query heads cannot share 3 kv heads
  QVERIFY(throwsWith([&] { gemFilter(v, 2); }, "bad Q/K shape"));
  Trace t;  // no capture
  QVERIFY(throwsWith([&] { qkView(t, 0); }, "without capture"));
}

LL_TEST(modelArguments) {
  LL_REQUIRE_SHARED();
  auto s = anatest::session("stories260K.gguf", "stories260K", "once");
  auto tr = s->run();
  QVERIFY(throwsWith([&] { qkView(*tr, 5); }, "out of range"));
  LensOptions o;
  o.tokens = {99};
  QVERIFY(throwsWith([&] { logitLens(s->engine(), *tr, o); }, "token index 99"));
  o.tokens = {};
  o.target = 100000;
  QVERIFY(throwsWith([&] { logitLens(s->engine(), *tr, o); }, "target"));
  QVERIFY(throwsWith([&] { contrastiveVector(*s, 7, {{1, 5}}, {{1, 6}}); }, "out of range"));
  QVERIFY(throwsWith([&] { contrastiveVector(*s, 1, {{1}}, {{1, 6}}); }, "besides BOS"));
  QVERIFY(throwsWith([&] { promptDistill(*s, {{9, 2}}); }, "out of range"));
  QVERIFY(throwsWith([&] { answerReindexed(*s, {0, 50}, 2); }, "out of range"));
  QVERIFY(throwsWith([&] { attentionKnockout(*s, {0}, {1}, 2, 3, 99999); }, "answer token"));
  QVERIFY(throwsWith([&] { pushRatio(*tr, 1, std::vector<float>(3), 1.0f); }, "n_embd"));
}

LL_TEST(controlVectorGarbage) {
  const auto dir = std::filesystem::temp_directory_path() / "ll_tst_cvec_bad";
  std::filesystem::create_directories(dir);
  std::mt19937 rng(3);
  // random bytes, and a valid file with random bytes flipped: an exception or a valid result
  ControlVector cv;
  cv.layers[2] = std::vector<float>(16, 0.5f);
  writeControlVector(dir / "ok.gguf", cv);
  std::string good;
  {
    std::ifstream in(dir / "ok.gguf", std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  int refused = 0;
  for (int it = 0; it < 200; ++it) {
    std::string b = good;
    if (it < 20) {
      b.assign(64 + rng() % 512, '\0');
      for (char& c : b) c = static_cast<char>(rng());
    } else {
      for (int f = 0; f < 4; ++f) b[rng() % b.size()] = static_cast<char>(rng());
    }
    {
      std::ofstream out(dir / "bad.gguf", std::ios::binary | std::ios::trunc);
      out.write(b.data(), static_cast<std::streamsize>(b.size()));
    }
    try {
      auto r = readControlVector(dir / "bad.gguf");
      QVERIFY(!r.layers.empty());
      for (const auto& [l, v] : r.layers) QVERIFY(l >= 1 && !v.empty());
    } catch (const std::exception&) {
      ++refused;
    }
  }
  QVERIFY(refused >= 20);  // at least every all-random file
  QVERIFY(throwsWith([&] { readControlVector(dir / "missing.gguf"); }, "missing.gguf"));
  ControlVector uneven;
  uneven.layers[1] = {1.0f, 2.0f};
  uneven.layers[2] = {1.0f};
  QVERIFY(throwsWith([&] { writeControlVector(dir / "u.gguf", uneven); }, "differ in length"));
  std::filesystem::remove_all(dir);
}

// A prompt's interventions carried onto its kept tokens re-indexed (the GemFilter / SnapKV / H2O
// answers): sets and starts follow the kept tokens' new places, dropped tokens leave them.
LL_TEST(interventionsOnKeptTokens) {
  Interventions iv;
  iv.router.push_back({1, 2, RouterEditKind::Ban, 0.0f});
  iv.skips.push_back({0, SkipPart::Mlp});
  iv.steering.push_back({1, 2.0f, 4, {1.0f, 2.0f}});
  iv.knockout = Knockout{{5, 9, 12}, {0, 2, 3}, 1, 3, 7};
  iv.masks.push_back(Knockout{{9}, {4}, 0, 2, -1});
  iv.patches.push_back({PatchSite::Resid, 1, 3, 0, false, {0.5f}});
  iv.patches.push_back({PatchSite::Resid, 1, 6, 0, false, {0.5f}});
  const std::vector<int> kept = {0, 3, 4, 9};
  const Interventions r = reindexedInterventions(iv, kept, 10);
  QVERIFY(r.router == iv.router && r.skips == iv.skips);
  QCOMPARE(r.steering.size(), size_t(1));
  QCOMPARE(r.steering[0].fromPos, 2);  // index 4 is the third kept token
  QVERIFY(r.knockout);
  // 5 is dropped, 9 -> 3, generated 12 -> 4 + (12 - 10); 2 is dropped, 0 -> 0, 3 -> 1.
  QCOMPARE(r.knockout->from, (std::vector<int>{3, 6}));
  QCOMPARE(r.knockout->to, (std::vector<int>{0, 1}));
  QCOMPARE(r.knockout->fromIndex, 3);  // the first kept token at or after 7 is 9, now 3
  QCOMPARE(r.knockout->layerBegin, 1);
  QCOMPARE(r.knockout->layerEnd, 3);
  QCOMPARE(r.masks.size(), size_t(1));
  QCOMPARE(r.masks[0].from, (std::vector<int>{3}));
  QCOMPARE(r.masks[0].to, (std::vector<int>{2}));
  QCOMPARE(r.masks[0].fromIndex, -1);
  QCOMPARE(r.patches.size(), size_t(1));  // the patch on the dropped token 6 goes
  QCOMPARE(r.patches[0].index, 1);
  QVERIFY(throwsWith([&] { reindexedInterventions(iv, {3, 0}, 10); }, "ascending"));
  QVERIFY(throwsWith([&] { reindexedInterventions(iv, {0, 10}, 10); }, "inside the prompt"));
}

LL_TEST_MAIN("tst_analysis_inputs")
