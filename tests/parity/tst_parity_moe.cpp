// Engine parity, MoE models: Mixtral-style llama (renormalised top-k), qwen2moe (shared expert with
// sigmoid gate, not renormalised), olmoe (q/k norm, 8 experts), stories260K-moe4 (upcycled).
#include "parity_common.h"

LL_TEST(llamaMoe) {
  QVERIFY(parity::checkModel("llama-moe") > 0);
}
LL_TEST(qwen2moeTiny) {
  QVERIFY(parity::checkModel("qwen2moe-tiny") > 0);
}
LL_TEST(olmoeTiny) {
  QVERIFY(parity::checkModel("olmoe-tiny") > 0);
}
LL_TEST(stories260KMoe4) {
  QVERIFY(parity::checkModel("stories260K-moe4") > 0);
}

LL_TEST_MAIN("tst_parity_moe")
