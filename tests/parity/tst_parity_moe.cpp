// Engine parity, MoE models: Mixtral-style llama (renormalised top-k), qwen2moe (shared expert with
// sigmoid gate, not renormalised), olmoe (q/k norm, 8 experts), stories260K-moe4 (upcycled).
#include "parity_common.h"

LL_TEST(llamaMoe) {
  parity::checkModel("llama-moe");
}
LL_TEST(qwen2moeTiny) {
  parity::checkModel("qwen2moe-tiny");
}
LL_TEST(olmoeTiny) {
  parity::checkModel("olmoe-tiny");
}
LL_TEST(stories260KMoe4) {
  parity::checkModel("stories260K-moe4");
}

LL_TEST_MAIN("tst_parity_moe")
