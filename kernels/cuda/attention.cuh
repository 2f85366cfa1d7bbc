// Flash-style causal attention on the device with in-pass statistics (entropy per head and
// query; column sums and the last query's row from a second light pass over the keys that reuses
// each row's log-sum-exp), and the kernel that materializes one head's probability map.
// No T x T buffer is ever allocated except the map the caller asked for.
#pragma once

#include <cuda_runtime.h>

#include "kernels/backend.h"

namespace ll::kern::cuda {

class Scratch;

// Largest head dimension the kernels handle (templated tiles of 32, 64, 128, 256).
constexpr int kMaxHeadDim = 256;

// lse: device scratch of nHead * nQ floats (row log-sum-exp, used by the second pass).
// fast: the tensor-core kernels of attention_fast.cuh (fp16 operands) instead of f32 FMA;
// with mmaScratch, the mma.sync flash kernel of attention_mma.cuh where it applies (its fp16
// copies of Q, K, V live in that scratch).
void attention(const AttnArgs& a, float* lse, bool fast, cudaStream_t s,
               Scratch* mmaScratch = nullptr);
// out[nQ, nKv] probabilities of one head; lse: device scratch of nQ floats.
void attentionMap(const AttnArgs& a, int head, float* out, float* lse, bool fast, cudaStream_t s);

}  // namespace ll::kern::cuda
