// Engine internals shared by engine.cpp and engine_layers.cpp: growable scratch buffers in backend
// memory and the state of one pass.
#pragma once

#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "runtime/engine/engine.h"

namespace ll::rt {

// Named backend buffers that grow on demand and are reused across passes.
struct Engine::Scratch {
  explicit Scratch(kern::Backend& b) : backend(b) {}
  kern::Backend& backend;
  std::map<std::string, kern::Buffer> bufs;
  void* get(const std::string& name, size_t bytes) {
    kern::Buffer& b = bufs[name];
    if (b.bytes() < bytes) b = kern::Buffer(backend, std::max<size_t>(bytes, 64));
    return b.get();
  }
  float* f32(const std::string& name, size_t count) {
    return static_cast<float*>(get(name, count * 4));
  }
  int32_t* i32(const std::string& name, size_t count) {
    return static_cast<int32_t*>(get(name, count * 4));
  }
  size_t bytes() const {
    size_t n = 0;
    for (const auto& [name, b] : bufs) n += b.bytes();
    return n;
  }
  // Frees the buffers above `keep` bytes. On the CPU a long prompt's pass leaves [T, ff] and
  // [T, d] buffers (tens of MiB for a 1B model at 512 rows) that the passes after it (the
  // last-word update, generation: a few rows) do not need, and host memory is what the trace
  // competes with; the next long pass allocates them again (page faults: milliseconds against
  // seconds of compute).
  void releaseLarge(size_t keep) {
    for (auto it = bufs.begin(); it != bufs.end();)
      it = it->second.bytes() > keep ? bufs.erase(it) : std::next(it);
  }
};

struct Engine::Pass {
  explicit Pass(Scratch& s) : scratch(s) {}
  Scratch& scratch;
  const std::vector<int32_t>* ids = nullptr;
  const std::vector<int32_t>* positions = nullptr;
  const Interventions* iv = nullptr;
  CaptureOptions cap;
  int p = 0, T = 0, n = 0;          // rows [p, T) are computed; n = T - p
  int nRun = 0;                     // layers [first, nRun) run (early exit, pipeline stage)
  int first = 0;                    // first layer run (a pipeline stage's)
  ActivationLink* input = nullptr;  // the residual entering `first` (first > 0)
  Trace* tr = nullptr;
  const Trace* old = nullptr;
  // The new trace took over old's buffers: old's Q/K rows [p, old->nTokens) are read from tr's
  // tensors (each layer's before that layer overwrites them).
  bool inPlace = false;
  // backend buffers
  float* x = nullptr;    // [n, d] residual stream
  float* h = nullptr;    // [n, d] normed input of a block
  float* q = nullptr;    // [n, qd]
  float* ffo = nullptr;  // [n, d] MoE output (allocated by moeFfn)
  int32_t* pos = nullptr;
  float* steer = nullptr;  // [nSteering, d]
  int ffMax = 0;
  // [nHead, T] column sums of the reused rows [0, p) for the next layer to run (oldColSums).
  std::vector<float> oldColSum;
};

}  // namespace ll::rt
