#include "fixture_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>

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

std::vector<uint8_t> encodeRandomBlocks(uint32_t type, size_t n, uint64_t seed) {
  // Per type: block bytes, elements, and the fp16 fields (offset, value) that bound |w| by about
  // 0.06 (3 sigma of the other fixtures' weights): Q4_0 d (q - 8) with |q - 8| <= 8; Q4_K
  // d sc q - dmin m with sc, q, m <= 63, 15, 63; Q6_K d sc (q - 32) with |sc| <= 128, |q - 32|
  // <= 32.
  struct Field {
    int offset;
    float value;
  };
  int bytes = 0, elems = 0;
  std::vector<Field> fields;
  switch (static_cast<ll::kern::QType>(type)) {
    case ll::kern::QType::Q4_0:
      bytes = 18, elems = 32, fields = {{0, 0.06f / 8}};
      break;
    case ll::kern::QType::Q4_K:
      bytes = 144, elems = 256, fields = {{0, 0.06f / (63 * 15)}, {2, 0.03f / 63}};
      break;
    case ll::kern::QType::Q6_K:
      bytes = 210, elems = 256, fields = {{208, 0.06f / (128 * 32)}};
      break;
    default:
      throw std::runtime_error("encodeRandomBlocks: type " + std::to_string(type) +
                               " is not Q4_0, Q4_K or Q6_K");
  }
  if (n % size_t(elems)) throw std::runtime_error("encodeRandomBlocks: partial block");
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> b(n / size_t(elems) * size_t(bytes));
  for (size_t i = 0; i < b.size(); i += 8) {
    const uint64_t r = rng();
    std::memcpy(b.data() + i, &r, std::min<size_t>(8, b.size() - i));
  }
  for (size_t blk = 0; blk < b.size() / size_t(bytes); ++blk)
    for (const Field& f : fields) {
      const uint16_t h = ll::kern::fp32ToFp16(f.value);
      std::memcpy(b.data() + blk * size_t(bytes) + size_t(f.offset), &h, 2);
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

void writeTinyLlamaShaped(const std::filesystem::path& path, uint32_t type, int nLayer,
                          const std::filesystem::path& vocabFrom) {
  using S = TinyLlamaShape;
  GgufWriter w;
  w.addString("general.architecture", "llama");
  w.addString("general.name", "tinyllama-shaped-random");
  w.addU32("llama.context_length", S::kCtx);
  w.addU32("llama.embedding_length", S::kEmbd);
  w.addU32("llama.block_count", nLayer);
  w.addU32("llama.feed_forward_length", S::kFf);
  w.addU32("llama.attention.head_count", S::kHead);
  w.addU32("llama.attention.head_count_kv", S::kHeadKv);
  w.addU32("llama.rope.dimension_count", S::kEmbd / S::kHead);
  w.addF32("llama.rope.freq_base", 10000.0f);
  w.addF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  // llama_ftype: ALL_F32 0, MOSTLY_F16 1, Q4_0 2, Q8_0 7, Q4_K_M 15, Q6_K 18.
  const uint32_t ftype = type == 1    ? 1
                         : type == 2  ? 2
                         : type == 8  ? 7
                         : type == 12 ? 15
                         : type == 14 ? 18
                                      : 0;
  w.addU32("general.file_type", ftype);
  w.copyMetadata(vocabFrom, "tokenizer.ggml.");
  uint64_t seed = 1000;
  auto encode = [type](const std::vector<float>& v) {
    return type == 1 ? encodeF16(v) : type == 8 ? encodeQ8_0(v) : encodeF32(v);
  };
  auto mat = [&](const std::string& name, int64_t cols, int64_t rows) {
    const uint64_t s = seed++;
    if (type == 2 || type == 12 || type == 14)
      w.addTensor(name, type, {cols, rows},
                  [=] { return encodeRandomBlocks(type, size_t(cols) * rows, s); });
    else
      w.addTensor(name, type, {cols, rows},
                  [=] { return encode(randomValues(size_t(cols) * rows, 0.02f, s)); });
  };
  auto vec = [&](const std::string& name, int64_t n) {
    w.addTensor(name, 0, {n}, [=] { return encodeF32(std::vector<float>(n, 1.0f)); });
  };
  const int64_t kvDim = S::kEmbd / S::kHead * S::kHeadKv;
  mat("token_embd.weight", S::kEmbd, S::kVocab);
  for (int l = 0; l < nLayer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    vec(b + "attn_norm.weight", S::kEmbd);
    mat(b + "attn_q.weight", S::kEmbd, S::kEmbd);
    mat(b + "attn_k.weight", S::kEmbd, kvDim);
    mat(b + "attn_v.weight", S::kEmbd, kvDim);
    mat(b + "attn_output.weight", S::kEmbd, S::kEmbd);
    vec(b + "ffn_norm.weight", S::kEmbd);
    mat(b + "ffn_gate.weight", S::kEmbd, S::kFf);
    mat(b + "ffn_up.weight", S::kEmbd, S::kFf);
    mat(b + "ffn_down.weight", S::kFf, S::kEmbd);
  }
  vec("output_norm.weight", S::kEmbd);
  mat("output.weight", S::kEmbd, S::kVocab);
  w.write(path);
}

}  // namespace lltest
