// Engine parity, dense models: stories260K (real weights), llama-gqa-f16 (GQA, 32000 vocab),
// qwen2-tiny (biases, NEOX RoPE), gpt2-tiny-f16 (LayerNorm, learned positions, fused qkv, GELU).
#include "parity_common.h"

LL_TEST(stories260K) {
  QVERIFY(parity::checkModel("stories260K") > 0);
}
LL_TEST(llamaGqaF16) {
  QVERIFY(parity::checkModel("llama-gqa-f16") > 0);
}
LL_TEST(qwen2Tiny) {
  QVERIFY(parity::checkModel("qwen2-tiny") > 0);
}
LL_TEST(gpt2TinyF16) {
  QVERIFY(parity::checkModel("gpt2-tiny-f16") > 0);
}

// The reference story: stories260K greedy from "Once upon a time", tokenized by our tokenizer.
LL_TEST(stories260KStoryFromText) {
  const auto shared = lltest::sharedDir();
  if (shared.empty()) QSKIP("no shared data");
  auto gen = parity::readJson(shared / "reference/stories260K/once/generate.json");
  ll::rt::Session s;
  s.load(shared / "models/stories260K.gguf", parity::testBackend());
  s.setPrompt("Once upon a time");
  auto tj = parity::readJson(shared / "reference/stories260K/once/tokens.json");
  QCOMPARE(s.promptIds(), tj["ids"].get<std::vector<int32_t>>());
  ll::rt::GenerateRequest req;
  req.maxTokens = 32;
  req.stopAtEos = false;
  auto g = s.generate(req);
  QCOMPARE(g.ids, gen["ids"].get<std::vector<int32_t>>());
  QCOMPARE(g.text, gen["text"].get<std::string>());
  std::printf("  story: Once upon a time%s\n", g.text.c_str());
}

LL_TEST_MAIN("tst_parity_dense")
