// What a forward pass is asked to do: interventions (steering, routing, attention knockout, token
// subsets), what to capture, and generation settings. Plain values, no pointers into other state,
// so requests can be copied across threads and compared to decide how much of the cache survives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ll::rt {

// Add alpha * vector to the OUTPUT of layer `layer` (the residual stream) at every sequence index
// >= fromPos, generated tokens included.
struct Steering {
  int layer = 0;
  float alpha = 1.0f;
  int fromPos = 0;
  std::vector<float> vector;  // [nEmbd]
  bool operator==(const Steering&) const = default;
};

// ALGORITHMS.md §9: bias adds to the router logit; force sets it to max(z) + eps; ban sets -inf
// before top-k; BiasStd (soft promotion) adds value * std(z) of that token's unedited logits
// (unbiased std, as torch.std).
enum class RouterEditKind { Bias, Force, Ban, BiasStd };
struct RouterEdit {
  int layer = 0;
  int expert = 0;
  RouterEditKind kind = RouterEditKind::Bias;
  float value = 0.0f;  // bias amount (Bias) or eps (Force; 0 means 1e-3)
  bool operator==(const RouterEdit&) const = default;
};

// Attention knockout: in layers [layerBegin, layerEnd) a query in `from` may not attend a key in
// `to` (except itself). Indices are sequence indices of the tokens the engine runs. fromIndex >= 0
// puts every query at index >= fromIndex in `from` too (tokens generated later included).
struct Knockout {
  std::vector<int> from;
  std::vector<int> to;
  int layerBegin = 0;
  int layerEnd = 0;
  int fromIndex = -1;
  bool operator==(const Knockout&) const = default;
};

// Per-layer, per-kv-head eviction (SnapKV / H2O answers): a query at sequence index >= fromIndex
// does not attend, in layer l and kv head g, a key j < length with keep[l][g * length + j] == 0
// (its own key stays visible; keys >= length stay visible). keep[l] empty: layer l evicts nothing.
struct HeadEviction {
  int fromIndex = 0;
  int length = 0;
  std::vector<std::vector<uint8_t>> keep;  // [nLayer][nHeadKv * length]
  bool operator==(const HeadEviction&) const = default;
};

// Run only these prompt tokens (indices into the prompt, ascending). keepPositions: each keeps its
// original position id; otherwise positions are re-indexed 0..n-1.
struct TokenSubset {
  std::vector<int> indices;
  bool keepPositions = true;
  bool operator==(const TokenSubset&) const = default;
};

// Layer skipping (ALGORITHMS.md §15): the block's update is dropped at every position, so the
// residual after layer `layer` equals its input (Layer), or only the attention update (Attention)
// or only the FFN / MoE update (Mlp) is dropped. The sublayer is still computed (its captures,
// KV rows and routing stay in the trace); only its addition to the residual stream is removed.
enum class SkipPart { Layer, Attention, Mlp };
struct LayerSkip {
  int layer = 0;
  SkipPart part = SkipPart::Layer;
  bool operator==(const LayerSkip&) const = default;
};

// Activation patching (ALGORITHMS.md §12): the value of one component at one sequence index is
// replaced (add = false, e.g. by its value from another run) or has `value` added to it (add =
// true, ROME's embedding noise). Sites: the token embedding row (before Gemma's scale and learned
// positions; `layer` unused), the residual stream after layer `layer` (steering included), the
// attention output (after W_O and any post-norm, before it joins the residual), the MLP / MoE
// output (likewise), or one query head's slice of the attention output before W_O. A patch at
// index t changes rows >= t only, so prefix reuse keeps the rows before it.
enum class PatchSite { Embedding, Resid, Attention, Mlp, Head };
struct Patch {
  PatchSite site = PatchSite::Resid;
  int layer = 0;
  int index = 0;
  int head = 0;  // Head only
  bool add = false;
  std::vector<float> value;  // [nEmbd]; [headDim] for Head
  bool operator==(const Patch&) const = default;
};

struct Interventions {
  std::vector<Steering> steering;
  std::vector<RouterEdit> router;
  std::optional<Knockout> knockout;
  // More knockouts, each with its own window and token sets (PromptDistill's stages); a query
  // blocked by several may attend none of their keys.
  std::vector<Knockout> masks;
  std::optional<HeadEviction> eviction;
  std::vector<LayerSkip> skips;
  std::vector<Patch> patches;
  bool operator==(const Interventions&) const = default;
};

struct CaptureOptions {
  bool enabled = true;    // false: no per-layer capture and no attention statistics (benchmarks)
  bool allLogits = true;  // false: logits of the last position only
  // >= 0: stop after this layer (early exit, e.g. GemFilter's selection layer): layers past it,
  // the final norm and the logits are not computed (their trace arrays stay empty / zero), and
  // the pass leaves nothing for prefix reuse beyond the rows it reused.
  int lastLayer = -1;
  // With enabled: also store each layer's attention output, MLP output and per-head attention
  // output before W_O (LayerTrace::attnOut, mlpOut, headOut), the values activation patching
  // copies between runs.
  bool components = false;
  bool operator==(const CaptureOptions&) const = default;
};

struct RunRequest {
  Interventions interventions;
  std::optional<TokenSubset> subset;
  CaptureOptions capture;
};

struct SamplingOptions {
  bool greedy = true;  // argmax, lowest id on exact ties
  float temperature = 1.0f;
  int topK = 0;       // 0 = off
  float topP = 1.0f;  // 1 = off
  uint64_t seed = 0;
};

struct GenerateRequest {
  int maxTokens = 32;
  bool stopAtEos = true;
  SamplingOptions sampling;
  Interventions interventions;
  std::optional<TokenSubset> subset;
};

}  // namespace ll::rt
