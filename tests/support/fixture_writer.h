// Test and benchmark fixtures: the runtime's GGUF writer plus F32/F16/Q8_0 encoders and
// deterministic random weights.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "runtime/formats/gguf_writer.h"

namespace lltest {

// The runtime's GGUF writer; fixtures add the encoders below.
using GgufWriter = ll::rt::GgufWriter;

// Encoders from f32 values.
std::vector<uint8_t> encodeF32(const std::vector<float>& v);
std::vector<uint8_t> encodeF16(const std::vector<float>& v);
std::vector<uint8_t> encodeQ8_0(const std::vector<float>& v);  // size a multiple of 32
size_t tensorBytes(uint32_t type, int64_t elements);
// Random blocks of ggml type 2 (Q4_0), 12 (Q4_K) or 14 (Q6_K) for n elements (whole blocks), with
// fixed fp16 scales that keep |w| below about 0.06: speed fixtures, not quantized values.
std::vector<uint8_t> encodeRandomBlocks(uint32_t type, size_t n, uint64_t seed);

// Deterministic N(0, sigma^2)-ish values (sum of uniforms) for random-weight fixtures.
std::vector<float> randomValues(size_t n, float sigma, uint64_t seed);

// The TinyLlama-1.1B shape the benchmarks use (issue "CPU engine": 22 layers, d 2048, 32 heads /
// 4 KV heads, FFN 5632, vocab 32000) with random weights.
struct TinyLlamaShape {
  static constexpr int kEmbd = 2048, kHead = 32, kHeadKv = 4, kFf = 5632, kVocab = 32000,
                       kCtx = 2048;
};
// Writes that model as a llama GGUF with weights of ggml type `type` (1 F16, 8 Q8_0, 0 F32; 2 Q4_0,
// 12 Q4_K, 14 Q6_K as encodeRandomBlocks) and the tokenizer metadata copied from vocabFrom. The
// same arguments always give the same file.
void writeTinyLlamaShaped(const std::filesystem::path& path, uint32_t type, int nLayer,
                          const std::filesystem::path& vocabFrom);

}  // namespace lltest
