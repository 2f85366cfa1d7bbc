// Causal attention with statistics (entropy, column sums, last row) for the CPU backend: one
// pass per (head, block of query rows), parallel over heads, O(threads * nKv) scratch.
#pragma once

#include "kernels/backend.h"
#include "kernels/cpu/thread_pool.h"

namespace ll::kern {

void cpuAttention(ThreadPool& pool, const AttnArgs& a);
void cpuAttentionMap(ThreadPool& pool, const AttnArgs& a, int head, float* out);

}  // namespace ll::kern
