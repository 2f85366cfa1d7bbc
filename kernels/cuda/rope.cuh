// Rotary position embedding on the device (interleaved GGUF-llama pairs or NEOX halves).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ll::kern::cuda {

// invFreq[nRot/2] (device, double): angle per position of each pair, all scaling folded in
// (kernels/rope_freq.h on the host); mag multiplies cos and sin (ropeMagnitude).
void rope(float* x, const int32_t* positions, int n, int nHead, int headDim, int nRot, bool neox,
          const double* invFreq, double mag, cudaStream_t s);

}  // namespace ll::kern::cuda
