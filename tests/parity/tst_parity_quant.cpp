// Engine parity, one llama model in every weight type: against the float64 torch forward on the
// dequantized weights (torch64/, f32 tolerances, greedy) and llama.cpp (its activation quantization
// explains the looser class tolerances).
#include "parity_common.h"

LL_TEST(quantF32) {
  QVERIFY(parity::checkModel("llama-quant-F32") > 0);
}
LL_TEST(quantF16) {
  QVERIFY(parity::checkModel("llama-quant-F16") > 0);
}
LL_TEST(quantBF16) {
  QVERIFY(parity::checkModel("llama-quant-BF16") > 0);
}
LL_TEST(quantQ8_0) {
  QVERIFY(parity::checkModel("llama-quant-Q8_0") > 0);
}
LL_TEST(quantQ6_K) {
  QVERIFY(parity::checkModel("llama-quant-Q6_K") > 0);
}
LL_TEST(quantQ5_K_M) {
  QVERIFY(parity::checkModel("llama-quant-Q5_K_M") > 0);
}
LL_TEST(quantQ5_1) {
  QVERIFY(parity::checkModel("llama-quant-Q5_1") > 0);
}
LL_TEST(quantQ5_0) {
  QVERIFY(parity::checkModel("llama-quant-Q5_0") > 0);
}
LL_TEST(quantQ4_K_M) {
  QVERIFY(parity::checkModel("llama-quant-Q4_K_M") > 0);
}
LL_TEST(quantQ4_1) {
  QVERIFY(parity::checkModel("llama-quant-Q4_1") > 0);
}
LL_TEST(quantQ4_0) {
  QVERIFY(parity::checkModel("llama-quant-Q4_0") > 0);
}
LL_TEST(quantQ3_K_M) {
  QVERIFY(parity::checkModel("llama-quant-Q3_K_M") > 0);
}
LL_TEST(quantQ2_K) {
  QVERIFY(parity::checkModel("llama-quant-Q2_K") > 0);
}
LL_TEST(quantIQ4_NL) {
  QVERIFY(parity::checkModel("llama-quant-IQ4_NL") > 0);
}
LL_TEST(quantIQ4_XS) {
  QVERIFY(parity::checkModel("llama-quant-IQ4_XS") > 0);
}
LL_TEST(quantMXFP4) {
  QVERIFY(parity::checkModel("llama-quant-MXFP4") > 0);
}

LL_TEST_MAIN("tst_parity_quant")
