// The GGUF fixtures of the newer families exported to HF folders (tests/support/hf_export.h) must
// run like their GGUF: the same prompt (longer than the fixtures' window 8) through ll::rt::Session
// gives bit-identical logits at every position to the GGUF whose Gemma norms hold the values the
// HF folder carries ((w - 1) + 1 in float: a norm weight below 0.5 can lose its last bit there),
// and logits within 1e-6 (relative to the largest |logit|) of the unmodified GGUF.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "hf_export.h"
#include "parity_common.h"

namespace fs = std::filesystem;

namespace {

const lltest::ScratchDir kScratch("ll_tst_parity_hf_export_");  // removed at exit
const fs::path& root() {
  return kScratch.path();
}

std::vector<float> logits(ll::rt::Session& s, const std::vector<int32_t>& ids) {
  s.setPromptIds(ids);
  auto tr = s.run();
  QCOMPARE(tr->nTokens, int(ids.size()));
  QCOMPARE(tr->logits.size(), ids.size() * size_t(tr->nVocab));
  return std::vector<float>(tr->logits.begin(), tr->logits.end());
}

void sameLogits(const std::string& model, const std::string& cls) {
  const fs::path shared = lltest::sharedDir();
  if (shared.empty()) throw lltest::Skip{"LAYERLENS_SHARED_DIR not set or missing"};
  const fs::path gguf = shared / "models" / (model + ".gguf"), dir = root() / cls;
  fs::create_directories(dir);
  const auto ex =
      lltest::exportHfFolder(gguf, dir, cls, shared / "models/hf/stories260K/tokenizer.json");
  std::vector<int32_t> ids;
  for (int i = 0; i < 24; ++i) ids.push_back(int32_t(1 + (i * 37 + 11) % 500));

  std::shared_ptr<ll::rt::Model> twin = ll::rt::loadModel(gguf);
  for (const auto& name : ex.shifted) {
    ll::rt::TensorData t = twin->weights.get(name);
    std::vector<float> v(t.nbytes / 4);
    std::memcpy(v.data(), t.data, t.nbytes);
    for (float& x : v) x = (x - 1.0f) + 1.0f;
    std::vector<uint8_t> bytes(t.nbytes);
    std::memcpy(bytes.data(), v.data(), t.nbytes);
    t.data = twin->weights.own(std::move(bytes));
    twin->weights.add(std::move(t));
  }
  ll::rt::Session a, b, c;
  a.load(gguf, parity::testBackend());
  b.load(dir, parity::testBackend());
  c.attach(twin, parity::testBackend());
  const auto la = logits(a, ids), lb = logits(b, ids), lc = logits(c, ids);
  QVERIFY2(lb.size() == lc.size() && std::memcmp(lb.data(), lc.data(), lb.size() * 4) == 0,
           model + ": HF logits are not bit-identical to the GGUF twin's");
  double maxDiff = 0, maxAbs = 0;
  size_t differing = 0;
  for (size_t i = 0; i < la.size(); ++i) {
    const double d = std::fabs(double(la[i]) - double(lb[i]));
    if (!(d <= maxDiff)) maxDiff = std::isnan(d) ? INFINITY : d;
    maxAbs = std::max(maxAbs, std::fabs(double(la[i])));
    differing += la[i] != lb[i];
  }
  std::printf(
      "  %s: HF vs GGUF logits [%zu x %zu]: %zu values differ, max|diff| %g (max|logit| %g); "
      "%zu norm tensors shifted\n",
      model.c_str(), ids.size(), la.size() / ids.size(), differing, maxDiff, maxAbs,
      ex.shifted.size());
  QVERIFY2(maxDiff <= 1e-6 * std::max(1.0, maxAbs), model + ": max|diff| " + parity::fmt(maxDiff));
  if (ex.shifted.empty()) QCOMPARE(differing, size_t(0));
  // And the folder against the fixture's own references (every prompt, tolerances of its class).
  QVERIFY(parity::checkModel(model, {dir, true}) > 0);
  fs::remove_all(dir);
}

}  // namespace

LL_TEST(gemma2Tiny) {
  sameLogits("gemma2-tiny", "Gemma2ForCausalLM");
}
LL_TEST(gemma3Tiny) {
  sameLogits("gemma3-tiny", "Gemma3ForCausalLM");
}
LL_TEST(phi3Tiny) {
  sameLogits("phi3-tiny", "Phi3ForCausalLM");
}
LL_TEST(qwen3Tiny) {
  sameLogits("qwen3-tiny", "Qwen3ForCausalLM");
}
LL_TEST(qwen3moeTiny) {
  sameLogits("qwen3moe-tiny", "Qwen3MoeForCausalLM");
}

LL_TEST_MAIN("tst_parity_hf_export")
