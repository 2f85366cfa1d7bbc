#include "fixture_writer.h"

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>

#include "kernels/quant.h"

namespace lltest {

size_t tensorBytes(uint32_t type, int64_t n) {
  return ll::kern::rowBytes(static_cast<ll::kern::QType>(type), n);
}

std::vector<uint8_t> encodeF32(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<uint8_t> encodeF16(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint16_t h = ll::kern::fp32ToFp16(v[i]);
    std::memcpy(b.data() + 2 * i, &h, 2);
  }
  return b;
}

std::vector<uint8_t> encodeQ8_0(const std::vector<float>& v) {
  if (v.size() % 32) throw std::runtime_error("Q8_0 needs a multiple of 32 values");
  std::vector<uint8_t> b(v.size() / 32 * 34);
  for (size_t blk = 0; blk < v.size() / 32; ++blk) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[blk * 32 + i]));
    const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
    uint16_t h = ll::kern::fp32ToFp16(d);
    std::memcpy(b.data() + blk * 34, &h, 2);
    for (int i = 0; i < 32; ++i)
      b[blk * 34 + 2 + i] =
          static_cast<uint8_t>(static_cast<int8_t>(std::lround(v[blk * 32 + i] * id)));
  }
  return b;
}

std::vector<float> randomValues(size_t n, float sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> v(n);
  const double k = sigma / std::sqrt(2.0 / 3.0);  // the sum of two uniform(-1, 1) has std sqrt(2/3)
  for (auto& x : v) {
    const double a = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0) * 2 - 1;
    const double b = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0) * 2 - 1;
    x = static_cast<float>((a + b) * k);
  }
  return v;
}

}  // namespace lltest
