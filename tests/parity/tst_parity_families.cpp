// Engine parity, the newer families (references from ik_llama.cpp, cross-checked in float64):
// qwen3 (per-head q/k norm), qwen3moe (+ renormalised experts), gemma2 (embedding scale, post-norms,
// GELU-gated FFN, soft-caps, windows on even layers), gemma3 (q/k norm, 5:1 local/global with a
// local RoPE base), phi3 (fused qkv and gate|up, LongRoPE factors, window), gpt-oss (sinks, YaRN,
// biased router and experts, clamped SwiGLU). Tolerances: reference/README.md, class f32.
#include "parity_common.h"

LL_TEST(qwen3Tiny) {
  QVERIFY(parity::checkModel("qwen3-tiny") > 0);
}
LL_TEST(qwen3moeTiny) {
  QVERIFY(parity::checkModel("qwen3moe-tiny") > 0);
}
LL_TEST(gemma2Tiny) {
  QVERIFY(parity::checkModel("gemma2-tiny") > 0);
}
LL_TEST(gemma3Tiny) {
  QVERIFY(parity::checkModel("gemma3-tiny") > 0);
}
LL_TEST(phi3Tiny) {
  QVERIFY(parity::checkModel("phi3-tiny") > 0);
}
LL_TEST(gptOssTiny) {
  QVERIFY(parity::checkModel("gpt-oss-tiny") > 0);
}

LL_TEST_MAIN("tst_parity_families")
