// The CPU backend's rewritten row dequantization (kernels/cpu/cpu_dequant) must be bit-exact with
// kernels/quant.cpp's dequantizeRow (itself checked against ggml in tst_quant) for every type.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend_checks.h"
#include "kernels/cpu/cpu_dequant.h"
#include "lltest.h"

using namespace ll::kern;

LL_TEST(bitExactWithDequantizeRow) {
  const QType types[] = {QType::F32,  QType::F16,    QType::BF16,   QType::Q4_0,
                         QType::Q4_1, QType::Q5_0,   QType::Q5_1,   QType::Q8_0,
                         QType::Q2_K, QType::Q3_K,   QType::Q4_K,   QType::Q5_K,
                         QType::Q6_K, QType::IQ4_NL, QType::IQ4_XS, QType::MXFP4};
  const uint64_t seed = lltest::ops::freshSeed();
  for (QType t : types) {
    const int64_t cols = 4 * qtypeInfo(t).blockSize * (qtypeInfo(t).blockSize == 1 ? 67 : 1);
    const int64_t rows = 9;
    auto bytes = lltest::ops::randomWeightBytes(seed + uint64_t(t), t, rows, cols);
    std::vector<float> want(static_cast<size_t>(cols)), got(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* src = bytes.data() + size_t(r) * rowBytes(t, cols);
      dequantizeRow(t, src, want.data(), cols);
      cpuDequantizeRow(t, src, got.data(), cols);
      QVERIFY2(std::memcmp(want.data(), got.data(), want.size() * 4) == 0,
               std::string(qtypeName(t)) + " row " + std::to_string(r) + " differs (seed " +
                   std::to_string(seed) + ")");
    }
  }
}

LL_TEST_MAIN("tst_backend_cpu_dequant")
