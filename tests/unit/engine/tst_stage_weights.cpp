// A pipeline stage's weights (WeightScope): a rank binds exactly its layers' tensors, the
// embeddings on the first stage and the output norm and head on the last (a tied head: the token
// embedding), plus the scope's extras for rank 0; anything else is refused with a clear error, not
// a null pointer. Dense, MoE, fused-QKV with learned positions, and a tied head.
#include <map>
#include <stdexcept>
#include <string>

#include "kernels/backends.h"
#include "lltest.h"
#include "runtime/dist/stage_plan.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/model_weights.h"
#include "runtime/model/model.h"

using namespace ll;
using namespace ll::rt;

namespace {

int layerOf(const std::string& name) {
  return name.rfind("blk.", 0) == 0 ? std::atoi(name.c_str() + 4) : -1;
}

// The file's bytes a stage [first, last) with no extra must bind, from the tensor names alone.
size_t expectedBytes(const Model& m, int first, int last) {
  const int L = m.spec.nLayer;
  const bool tied = m.weights.find("output.weight") == nullptr;
  size_t sum = 0;
  for (const auto& [name, t] : m.weights.all()) {
    const int l = layerOf(name);
    bool in = false;
    if (l >= 0)
      in = l >= first && l < last;
    else if (name.rfind("token_embd", 0) == 0)
      in = first == 0 || (tied && last == L);
    else if (name.rfind("position_embd", 0) == 0)
      in = first == 0;
    else if (name.rfind("output", 0) == 0)
      in = last == L;
    if (in) sum += t.nbytes;
  }
  return sum;
}

template <class F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return {};
}

void checkStages(const std::string& file, int nRanks) {
  LL_REQUIRE_SHARED();
  auto model = loadModel(lltest::sharedDir() / "models" / file);
  const int L = model->spec.nLayer;
  auto cpu = kern::makeCpuBackend(1);
  const ModelWeights whole(*model, *cpu);
  size_t fileBytes = 0;
  for (const auto& [name, t] : model->weights.all()) fileBytes += t.nbytes;
  QCOMPARE(whole.boundBytes(), fileBytes);  // the accounting covers every tensor once
  QCOMPARE(whole.boundBytes(), expectedBytes(*model, 0, L));
  size_t stageSum = 0, stageCount = 0;
  for (const dist::StageRange& r : dist::splitLayers(L, nRanks)) {
    const std::string what =
        file + " layers " + std::to_string(r.first) + "-" + std::to_string(r.last - 1) + ": ";
    const ModelWeights w(*model, *cpu, WeightScope{r.first, r.last});
    QVERIFY2(w.boundBytes() == expectedBytes(*model, r.first, r.last),
             what + std::to_string(w.boundBytes()) + " bytes bound, expected " +
                 std::to_string(expectedBytes(*model, r.first, r.last)));
    stageSum += w.boundBytes();
    stageCount += w.boundCount();
    for (int l = 0; l < L; ++l) {
      if (l >= r.first && l < r.last) {
        const LayerWeights& lw = w.layer(l);
        QVERIFY(lw.wq && lw.wk && lw.wv && lw.wo && lw.attnNorm && lw.ffnNorm);
        QCOMPARE(lw.isMoe(), model->spec.nExpert > 0);
        if (lw.isMoe())
          QCOMPARE(lw.experts.size(), size_t(model->spec.nExpert));
        else
          QVERIFY(lw.up && lw.down);
      } else {
        const std::string e = errorOf([&] { w.layer(l); });
        QVERIFY2(e.find("not loaded on this rank") != std::string::npos, what + e);
      }
    }
    // (a tied head is the embedding: the last stage holds it too)
    const bool tied = model->weights.find("output.weight") == nullptr;
    const std::string embdError = errorOf([&] { w.embeddings(); });
    QVERIFY(r.first == 0 || (tied && r.last == L)
                ? embdError.empty()
                : embdError.find("embeddings are not loaded") != std::string::npos);
    const std::string headError = errorOf([&] { w.head(); });
    QVERIFY(r.last == L ? headError.empty() && w.output && w.outputNorm
                        : headError.find("LM head is not loaded") != std::string::npos);
    QVERIFY(r.last == L || !w.outputNorm);
  }
  // Split or whole, every tensor is bound once (a tied head's embedding twice: on both ends).
  const bool tiedHead = model->weights.find("output.weight") == nullptr;
  const size_t embd = model->weights.find("token_embd.weight")->nbytes;
  QCOMPARE(stageSum, whole.boundBytes() + (tiedHead && nRanks > 1 ? embd : 0));
  QVERIFY(stageCount >= whole.boundCount());
}

}  // namespace

LL_TEST(denseStagesBindTheirLayers) {
  checkStages("stories260K.gguf", 2);
  checkStages("stories260K.gguf", 3);
}

LL_TEST(moeStagesBindTheirLayers) {
  checkStages("stories260K-moe4.gguf", 2);
  checkStages("stories260K-moe4.gguf", 3);
  checkStages("olmoe-tiny.gguf", 2);
}

LL_TEST(fusedQkvAndTiedHeadStages) {
  checkStages("gpt2-tiny-f16.gguf", 2);  // fused qkv + bias, learned positions
  checkStages("gemma2-tiny.gguf", 4);    // tied head: the last stage binds the embedding
}

// Rank 0's extras: the query path (and output norm) of every layer, or the analyses' set; never a
// later layer's FFN or W_k. Router edits on any layer still validate (the MoE flag is the file's).
LL_TEST(rankZeroExtras) {
  LL_REQUIRE_SHARED();
  auto model = loadModel(lltest::sharedDir() / "models" / "stories260K-moe4.gguf");
  auto cpu = kern::makeCpuBackend(1);
  const int L = model->spec.nLayer;
  const ModelWeights q(*model, *cpu, WeightScope{0, 1, WeightScope::Extra::Queries});
  const ModelWeights a(*model, *cpu, WeightScope{0, 1, WeightScope::Extra::Analyses});
  const ModelWeights none(*model, *cpu, WeightScope{0, 1});
  QVERIFY(q.boundBytes() > none.boundBytes());
  QVERIFY(a.boundBytes() > q.boundBytes());
  for (int l = 1; l < L; ++l) {
    const LayerWeights& x = q.layer(l);
    QVERIFY(x.wq && x.attnNorm && !x.wk && !x.wv && !x.wo && !x.ffnNorm && x.experts.empty());
    QVERIFY(x.isMoe());
    const LayerWeights& y = a.layer(l);
    QVERIFY(y.wq && y.wv && y.wo && y.attnNorm && !y.wk && !y.ffnNorm && y.experts.empty());
  }
  QVERIFY(q.outputNorm && !q.output);
  QVERIFY(a.outputNorm && a.output && errorOf([&] { a.head(); }).empty());

  // An engine over the stage refuses a range its weights do not hold, and a whole pass.
  Engine e(*model, *cpu, nullptr, nullptr, WeightScope{0, 1, WeightScope::Extra::Queries});
  QCOMPARE(e.firstLayer(), 0);
  QCOMPARE(e.lastLayer(), 1);
  bool threw = false;
  try {
    e.setLayerRange(0, 2);
  } catch (const std::invalid_argument& ex) {
    threw = std::string(ex.what()).find("weights hold layers [0, 1)") != std::string::npos;
  }
  QVERIFY(threw);
  QVERIFY(!errorOf([&] { e.run({1, 2}, {0, 1}, {}, {}); }).empty());
  // Validation of a router edit aimed at a layer another rank runs.
  Interventions iv;
  iv.router.push_back({L - 1, 0, RouterEditKind::Bias, 1.0f});
  QCOMPARE(e.plannedReuse({1, 2}, {0, 1}, iv, {}), 0);
}

LL_TEST_MAIN("tst_stage_weights")
