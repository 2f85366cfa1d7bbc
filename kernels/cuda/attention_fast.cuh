// Tensor-core (WMMA, fp16 operands, f32 accumulation) variant of the attention kernels, used in
// the fast math mode: same contract and statistics as attention.cuh, Q/K/V/P rounded to fp16
// (relative 2^-11; |q|, |k|, |v| must stay below fp16's 65504).
#pragma once

#include <cuda_runtime.h>

#include "kernels/backend.h"

namespace ll::kern::cuda {

// lse: device scratch (nHeads * nQ floats) when colSum/lastRow/map are wanted.
void attentionFast(const AttnArgs& a, float* lse, cudaStream_t s);
void attentionMapFast(const AttnArgs& a, int head, float* out, float* lse, cudaStream_t s);

}  // namespace ll::kern::cuda
