#include "runtime/engine/device_plan.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace ll::rt {
namespace {

constexpr size_t kMiB = size_t(1) << 20;
// CUDA context, cuBLAS workspace and allocator slack: measured around 0.4 GiB on an H100.
constexpr size_t kRuntimeReserve = 512 * kMiB;
// The matmul's dequantized weight chunk (kernels/cuda/matmul.cuh: 32 M elements, f32 at most)
// and the engine's logits chunk (engine_layers.cpp: 64 MiB).
constexpr size_t kWeightChunk = 128 * kMiB, kLogitsChunk = 64 * kMiB;

std::string gib(size_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f GiB", double(bytes) / double(size_t(1) << 30));
  return b;
}

// Whether the scope binds the tensor `name` (GGUF names: blk.N.* per layer, the rest global).
bool inScope(const std::string& name, const WeightScope& sc, int nLayer) {
  const int last = sc.last < 0 ? nLayer : sc.last;
  if (sc.first == 0 && last == nLayer) return true;
  if (name.rfind("blk.", 0) == 0) {
    const int l = std::atoi(name.c_str() + 4);
    return l >= sc.first && l < last;
  }
  if (name.rfind("token_embd", 0) == 0 || name.rfind("position_embd", 0) == 0) return sc.first == 0;
  return last == nLayer;  // output norm and head
}

}  // namespace

DeviceMemoryPlan planDeviceMemory(const Model& model, size_t freeBytes, int minTokens,
                                  const WeightScope& scope) {
  DeviceMemoryPlan p;
  p.freeBytes = freeBytes;
  p.minTokens = std::max(1, minTokens);
  const int first = scope.first, last = scope.last < 0 ? model.spec.nLayer : scope.last;
  for (const auto& [name, t] : model.weights.all()) {
    if (!inScope(name, scope, model.spec.nLayer)) continue;
    p.weightBytes += t.nbytes;
    if (t.rows() == 1) p.weightBytes += size_t(std::max<int64_t>(t.cols(), 0)) * 4;  // f32 copy
  }
  const ModelSpec& s = model.spec;
  const size_t d = size_t(std::max(s.nEmbd, 0)), qd = size_t(std::max(s.nHead, 0)) * s.headDim,
               kvd = size_t(std::max(s.nHeadKv, 0)) * s.headDim,
               ff = size_t(std::max({s.nFf, s.nFfExpert, 0}));
  const size_t kvCache = 2 * size_t(std::max(last - first, 0)) * kvd * 4;
  // engine scratch (x, h, FFN out, MoE in/out/shared expert: 6 d; q, attention out, raw k; gate
  // and up), router logits, fast-mode bf16 input copy, fp16 Q/K/V of the mma attention, lse.
  const size_t work = 4 * (6 * d + 2 * qd + kvd + 2 * ff + size_t(std::max(s.nExpert, 0))) +
                      2 * std::max({d, qd, ff}) + 2 * (qd + 2 * kvd) +
                      4 * size_t(std::max(s.nHead, 0));
  p.perTokenBytes = kvCache + work;
  p.reserveBytes = kRuntimeReserve + kWeightChunk + kLogitsChunk;
  const size_t fixed = p.weightBytes + p.reserveBytes;
  p.maxTokens =
      freeBytes > fixed && p.perTokenBytes > 0 ? int64_t((freeBytes - fixed) / p.perTokenBytes) : 0;
  p.fits = p.maxTokens >= p.minTokens;
  if (!p.fits)
    p.message = model.path.filename().string() + " does not fit in GPU memory: it needs " +
                gib(fixed + p.perTokenBytes * size_t(p.minTokens)) + " (weights " +
                gib(p.weightBytes) + ", " + std::to_string(p.minTokens) + " tokens of context " +
                gib(p.perTokenBytes * size_t(p.minTokens)) + ", runtime reserve " +
                gib(p.reserveBytes) + ") and " + gib(freeBytes) + " is free; using the CPU backend";
  return p;
}

}  // namespace ll::rt
