// Device memory planning for a GPU backend: from the model's tensors and hyperparameters alone,
// before anything is uploaded, whether the weights plus a working context fit in the free
// device memory, and the message to show (with the CPU fallback) when they do not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/engine/weight_scope.h"
#include "runtime/model/model.h"

namespace ll::rt {

struct DeviceMemoryPlan {
  size_t weightBytes = 0;    // tensors as the CUDA backend stores them (+ f32 copies of vectors)
  size_t reserveBytes = 0;   // fixed: runtime/cuBLAS margin, the largest dequantized weight,
                             // the logits chunk
  size_t perTokenBytes = 0;  // per context token: KV cache + the prefill working set
  size_t freeBytes = 0;      // what the device reported
  int64_t maxTokens = 0;     // context that fits beside the weights (0 when nothing fits)
  int minTokens = 0;         // the context the plan asked for
  bool fits = false;         // weights + reserve + minTokens of context <= freeBytes
  std::string message;       // when !fits: sizes in GiB, and that the CPU backend is used
};

// Captured tensors kept on the device (residual streams, Q/K) are not counted: they depend on
// the capture options of each request, and a capture that does not fit is an exception of that
// request, not of the load.
// scope: a pipeline stage's share counts its own layers' tensors and KV cache, the embeddings on
// the first stage and the output norm and head on the last (a rank-0 scope's extra tensors are not
// counted: at most the attention weights of the other layers, under `serve`).
DeviceMemoryPlan planDeviceMemory(const Model& model, size_t freeBytes, int minTokens = 512,
                                  const WeightScope& scope = {});

}  // namespace ll::rt
