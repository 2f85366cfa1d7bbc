// Depth usage (ALGORITHMS.md §11): per token the change of the residual norm per layer, which
// layers are "active" (L2 adaptive computation, alpha = 0.8), the relative contribution of each
// layer, and the RoPE wavelengths per dimension pair.
#pragma once

#include <vector>

#include "runtime/api/trace.h"

namespace ll::rt::ana {

// h_{-1} = the token embeddings (the input of block 0), h_l = residual after layer l.
struct DepthUsage {
  int nLayer = 0, nTokens = 0;
  std::vector<float> norm;   // [nLayer + 1, T]: ||embd||, ||h_0||, ...
  std::vector<float> delta;  // [nLayer, T]: ||h_l|| - ||h_{l-1}||
  std::vector<unsigned char>
      active;                   // [nLayer, T]: delta_l >= alpha * (max_{j<l} - min_{j<l}) delta_j
  std::vector<float> relative;  // [nLayer, T]: ||h_l - h_{l-1}|| / ||h_{l-1}||
};
// Layer 0 has no earlier deltas: it counts as active (the range over an empty set is taken as 0,
// and delta_0 >= 0 decides).
DepthUsage depthUsage(const Trace& tr, float alpha = 0.8f);

// 2 pi base^(2i/d) for i in [0, d/2).
std::vector<double> ropeWavelengths(int headDim, double base);

}  // namespace ll::rt::ana
