// Engine parity, one llama model in every weight type: against the float64 torch forward on the
// dequantized weights (torch64/, f32 tolerances, greedy) and llama.cpp (its activation quantization
// explains the looser class tolerances).
#include "parity_common.h"

LL_TEST(quantF32) {
  parity::checkModel("llama-quant-F32");
}
LL_TEST(quantF16) {
  parity::checkModel("llama-quant-F16");
}
LL_TEST(quantBF16) {
  parity::checkModel("llama-quant-BF16");
}
LL_TEST(quantQ8_0) {
  parity::checkModel("llama-quant-Q8_0");
}
LL_TEST(quantQ6_K) {
  parity::checkModel("llama-quant-Q6_K");
}
LL_TEST(quantQ5_K_M) {
  parity::checkModel("llama-quant-Q5_K_M");
}
LL_TEST(quantQ5_1) {
  parity::checkModel("llama-quant-Q5_1");
}
LL_TEST(quantQ5_0) {
  parity::checkModel("llama-quant-Q5_0");
}
LL_TEST(quantQ4_K_M) {
  parity::checkModel("llama-quant-Q4_K_M");
}
LL_TEST(quantQ4_1) {
  parity::checkModel("llama-quant-Q4_1");
}
LL_TEST(quantQ4_0) {
  parity::checkModel("llama-quant-Q4_0");
}
LL_TEST(quantQ3_K_M) {
  parity::checkModel("llama-quant-Q3_K_M");
}
LL_TEST(quantQ2_K) {
  parity::checkModel("llama-quant-Q2_K");
}

LL_TEST_MAIN("tst_parity_quant")
