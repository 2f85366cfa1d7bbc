// Attention under a list of knockouts and a per-head eviction: splits the query rows of one layer
// into contiguous segments whose masks are one blockQ x blockK product each, and runs the backend
// attention (or one head's map) per segment. Used by the engine, its column-sum bookkeeping and the
// Session's attention maps, so all three see the same masks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "runtime/api/request.h"
#include "runtime/api/trace.h"

namespace ll::rt {

// Interventions::knockout (if any) followed by Interventions::masks.
std::vector<const Knockout*> allKnockouts(const Interventions& iv);

// Query rows [rowBegin, rowEnd) (sequence indices) and the knockout that holds for them, indexed
// by cache index [0, rowEnd). Empty blockQ: no knockout on these rows.
struct MaskSegment {
  int rowBegin = 0, rowEnd = 0;
  std::vector<uint8_t> blockQ, blockK;
};
// Rows with different sets of active knockouts cannot share one product mask (a union of products
// is not a product), so the rows are cut where the set changes; rows no knockout acts on join any
// segment. One segment when at most one distinct set is active (every single knockout).
std::vector<MaskSegment> maskSegments(const Interventions& iv, int layer, int rowBegin, int rowEnd);

// Throws std::invalid_argument for knockout indices outside [0, T) and eviction tables whose shape
// does not match the model.
void validateMasks(const Interventions& iv, int T, int nLayer, int nHeadKv);
// First sequence index whose masks differ between a and b (T: none); only the query rows a
// knockout or eviction acts on see a different mask.
int maskInvalidationPoint(const Interventions& a, const Interventions& b, int T);

// Backend scratch memory by name (kept by the caller across calls).
using MaskScratch = std::function<void*(const std::string& name, size_t bytes)>;

// The one place that assembles a layer's attention arguments: query rows [nKv - nQ, nKv) against
// keys [0, nKv), the trace's head shapes and the layer's semantics as the trace recorded them
// (scale, sliding window, soft-cap, sinks). b: the backend that will run them (sinks are staged in
// scratch when it cannot read host memory); nullptr: host memory (the reference rows). Masks from
// interventions are added per segment by maskedAttention / maskedAttentionMap.
kern::AttnArgs layerAttnArgs(const Trace& tr, int layer, int nQ, int nKv, const float* q,
                             const float* k, const float* v, float* out, kern::Backend* b,
                             const MaskScratch& scratch);

// Host copies of the statistics of the computed rows.
struct MaskedAttnStats {
  std::vector<float> entropy;  // [nHead, nQ]
  std::vector<float> colSum;   // [nHead, nKv]: sums over the computed rows only
  std::vector<float> lastRow;  // [nHead, nKv]
};

// a: query rows [nKv - nQ, nKv) with q/out pointing at the first of them; a's own masks and
// statistics pointers are ignored (the interventions' masks for `layer` are used). stats: filled
// when not null.
void maskedAttention(kern::Backend& b, const kern::AttnArgs& a, const Interventions& iv, int layer,
                     const MaskScratch& scratch, MaskedAttnStats* stats);
// Probabilities of one head for the same rows: out[nQ, nKv] on the host (masked entries 0).
void maskedAttentionMap(kern::Backend& b, const kern::AttnArgs& a, const Interventions& iv,
                        int layer, int head, const MaskScratch& scratch, float* out);

}  // namespace ll::rt
