// WeightScope: which of a model's weights one engine binds, the whole model or one pipeline
// stage's share (runtime/dist); read by ModelWeights, chosen per rank by the split commands.
#pragma once

#include <cstdint>

namespace ll::rt {

// Which of the model's tensors a ModelWeights binds (on a GPU backend: uploads). One process: all
// of them. A pipeline stage: its layers [first, last) whole, the embeddings when it is the first
// stage (first == 0), the output norm and LM head when it is the last (last == nLayer), and, for
// every other layer, only what `extra` names. Every rank binds every layer's attention sinks
// ([nHead] floats each): the traces it builds carry every layer's attention semantics.
struct WeightScope {
  int first = 0, last = -1;  // last < 0: to the last layer
  enum class Extra : uint8_t {
    None,
    // Rank 0 of `run` / `generate` on a host-memory backend: its traces store a layer's queries
    // for the last rows only and no final norm, and recompute them from the layer input on
    // request, also for the layers it fetched from the other ranks. So every layer's attention
    // norm, W_q (the q rows of a fused W_qkv), q bias and q norm, and the output norm. (A device
    // backend's traces store them: nothing extra is bound there.)
    Queries,
    // Rank 0 of `serve`: the analyses run there over fetched traces read besides the queries'
    // path every layer's W_v / b_v (the q and v rows of a fused W_qkv), W_o / b_o, post-attention
    // and post-FFN norms and the MLP's output bias (attribution, flow routes), and the output
    // norm and LM head (logit lens, attribution's unembedding direction). The FFN matrices and
    // W_k of the other stages stay unbound.
    Analyses,
  };
  Extra extra = Extra::None;
};

// A pipeline stage's share named by its place (stage `stage` of `stages`); its layers follow from
// the model (dist::splitLayers). stages == 1: the whole model.
struct StageShare {
  int stage = 0, stages = 1;
  WeightScope::Extra extra = WeightScope::Extra::None;
};

}  // namespace ll::rt
