// The per-destination arithmetic of information-flow routes (ALGORITHMS.md §14): L1
// contributions of a block's parts, the threshold and renormalisation, and the bound-based
// pruning of attention sources. Host memory only; flow_compute.cpp feeds it one destination at a
// time.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace ll::rt::ana::flow {

// One destination token i of one attention block: y = the stream after attention at i, x = the
// stream before it (the residual part), and for sources j <= i the heads' probabilities a_h[j]
// and the projected values U_h[j] = W_O,h v_h(j) with their L1 norms; the part of source j is
// z_j = sum_h a_h[j] U_h[j].
struct AttnDestination {
  const float* y = nullptr;  // [d]
  const float* x = nullptr;  // [d]
  int d = 0;
  int nSrc = 0;  // i + 1
  int nHead = 0;
  const float* const* attn = nullptr;  // [nHead] rows a_h[0..nSrc)
  // [nHead] rows s . U_h[0..nSrc), s = sign(y) (null: the bound uses the norms alone)
  const float* const* linear = nullptr;
  const float* values = nullptr;      // U: [T][nHead][d] (a source's heads side by side)
  const float* valueNorms = nullptr;  // ||U_h[j]||_1: [nHead][T]
  int nTokens = 0;                    // T (stride of valueNorms)
};

// A kept part: source token (-1: the residual) and its renormalised weight.
using KeptPart = std::pair<int, double>;

struct DestScratch {
  std::vector<double> bound, linear, contrib;
  std::vector<int> order;
  std::vector<unsigned char> done;
  std::vector<float> z;
};

// c = max(0, ||y||_1 - ||y - z||_1).
double l1Contribution(const float* y, const float* z, int d);

// The kept parts of a block whose exact contributions are c (index = part), threshold tau: share
// c_k / sum(c) >= tau is kept, the kept ones renormalised to sum 1; ids[k] names part k. A sum of
// zero keeps nothing unless tau == 0 (then every part, with weight 0).
void keepParts(const std::vector<double>& c, const std::vector<int>& ids, double tau,
               std::vector<KeptPart>& out);

// The attention block of one destination, residual first then sources in ascending order. With
// prune, a source's contribution is computed exactly only where its bound
// B_j = sum_h a_h[j] ||U_h[j]||_1 >= c_j could reach tau times the normaliser; the membership of
// every part and the weights of the kept ones equal the unpruned result (see the .cpp). Returns
// the number of sources evaluated exactly. With `linear`, the bound is also at most
// max(0, sum_h a_h[j] s . U_h[j]) (see the .cpp), which is nearly c_j itself for small parts.
int attentionDestination(const AttnDestination& in, double tau, bool prune, DestScratch& sc,
                         std::vector<KeptPart>& out);

}  // namespace ll::rt::ana::flow
