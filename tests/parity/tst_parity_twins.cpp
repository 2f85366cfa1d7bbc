// The same weights in other formats (HF safetensors folders, llama2.c .bin) must reproduce their
// GGUF twin's references.
#include "parity_common.h"

LL_TEST(hfStories260K) {
  QVERIFY(parity::checkModel("stories260K", {"models/hf/stories260K", true}) > 0);
}
LL_TEST(hfStories260KSharded) {
  QVERIFY(parity::checkModel("stories260K", {"models/hf/stories260K-sharded", true}) > 0);
}
LL_TEST(llama2cStories260K) {
  QVERIFY(parity::checkModel("stories260K", {"models/llama2c/stories260K.bin", true}) > 0);
}
LL_TEST(hfGpt2Tiny) {
  QVERIFY(parity::checkModel("gpt2-tiny-f16", {"models/hf/gpt2-tiny", true}) > 0);
}

LL_TEST_MAIN("tst_parity_twins")
