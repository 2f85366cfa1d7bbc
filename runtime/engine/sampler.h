// Next-token choice from a logits row: greedy (lowest id on exact ties) or sampled with
// temperature, top-k and top-p, deterministic for a seed (own RNG arithmetic, no
// implementation-defined distributions).
#pragma once

#include <cstdint>
#include <random>

#include "runtime/api/request.h"

namespace ll::rt {

int32_t argmaxLowest(const float* logits, int n);

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& o) : m_opt(o), m_rng(o.seed) {}
  int32_t next(const float* logits, int n);

 private:
  SamplingOptions m_opt;
  std::mt19937_64 m_rng;
};

}  // namespace ll::rt
