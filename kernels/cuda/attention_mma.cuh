// Flash attention on tensor cores with mma.sync (m16n8k16, fp16 operands, f32 accumulation) for
// the fast math mode at head dims 64 and 128: same contract and statistics as attention.cuh.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "kernels/backend.h"

namespace ll::kern::cuda {

// Whether attentionMma takes these arguments: head dim 64 or 128, a prefill-sized query block
// (decode steps stay on the kernels that read f32 K/V directly), compute capability >= 8.0.
bool attentionMmaSupports(const AttnArgs& a);
// Bytes of device scratch it needs: fp16 copies of Q (pre-scaled), K and V.
size_t attentionMmaScratchBytes(const AttnArgs& a);
// lse: nHead * nQ floats of scratch (used when colSum or lastRow is asked for); scratch: at
// least attentionMmaScratchBytes(a) bytes. Arguments are checked by the caller (attention()).
void attentionMma(const AttnArgs& a, float* lse, void* scratch, cudaStream_t s);

}  // namespace ll::kern::cuda
