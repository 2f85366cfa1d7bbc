// Layer skipping (ALGORITHMS.md §15, with the depth measures of §11): each layer (or only its
// attention or MLP update) is skipped in turn and the next-token distributions are compared with
// the unskipped run's; the per-layer update sizes come from the unskipped trace.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/api/request.h"
#include "runtime/api/trace.h"

namespace ll::rt {
class Session;
}

namespace ll::rt::ana {

// The one definition of the analysis's parameters (CLI options, GUI controls and sessions bind to
// it). position < 0 counts from the end (-1 = the last token).
struct LayerSkipRequest {
  int position = -1;
  SkipPart part = SkipPart::Layer;
  // The document also carries every position's values (layerSkipPositions), so a reader moves the
  // result to another position without the trace (the GUI on a server); off for the CLI.
  bool allPositions = false;
};
inline constexpr const char* kSkipPositionHelp =
    "token index P whose next-token distribution is compared (negative counts from the end; "
    "default: the last token)";
inline constexpr const char* kSkipPartHelp =
    "what is skipped in each layer: layer (the whole block), attn (only the attention update), "
    "mlp (only the MLP update); default layer";

// "layer", "attn", "mlp" (CLI --sublayer, session files, JSON).
std::string skipPartName(SkipPart part);
// Accepts the names above ("layer" also as "whole"); throws std::invalid_argument otherwise.
SkipPart parseSkipPart(const std::string& name);

struct LayerSkipResult {
  int nLayer = 0, nTokens = 0;
  int position = 0;  // the row P the per-position values are read at
  SkipPart part = SkipPart::Layer;
  int32_t top1 = -1;                       // the unskipped run's top-1 at P
  std::vector<double> kl;                  // [nLayer] KL(p || p_skip) at P, nats
  std::vector<double> klMean;              // [nLayer] mean over all positions
  std::vector<int32_t> top1Skip;           // [nLayer] top-1 at P with the layer skipped
  std::vector<unsigned char> top1Changed;  // [nLayer] top1Skip != top1
  // From the unskipped trace at P, Delta_l = h_l - h_{l-1} (h_{-1} = the embeddings), whole layer:
  std::vector<float> relUpdate;       // [nLayer] ||Delta_l|| / ||h_{l-1}||
  std::vector<float> cosUpdate;       // [nLayer] cos(Delta_l, h_{l-1})
  std::vector<unsigned char> active;  // [nLayer] the "active layer" marking of §11
  // Every position, so another P needs no new passes (selectPosition):
  std::vector<double> klAll;         // [nLayer, nTokens] KL(p || p_skip) per position
  std::vector<int32_t> top1SkipAll;  // [nLayer, nTokens]
};

// KL(softmax(p) || softmax(q)) in nats over n logits, in double (log-softmax, so a probability
// that underflows in q does not make it infinite unless its logit is -inf).
double klFromLogits(const float* p, const float* q, int n);

// (layersDone, nLayer) -> false to cancel (throws ll::rt::Cancelled).
using SkipProgress = std::function<bool(int, int)>;

// base: an unskipped trace of the Session's model with capture and all logits (its interventions
// and token subset are kept in every skipped run). Runs nLayer extra passes on the Session's
// engine without publishing them; a skip changes every position, so these passes reuse no prefix.
LayerSkipResult layerSkip(Session& s, const Trace& base, const LayerSkipRequest& req = {},
                          const SkipProgress& progress = {});

// Re-reads the per-position values (kl, top1, top1Skip, top1Changed, relUpdate, cosUpdate,
// active) at row P of the same base trace, without new passes. Throws when P is out of range.
void selectPosition(const Trace& base, LayerSkipResult& r, int position);

// What selectPosition re-reads from the base trace, for every position at once: top1 [nTokens],
// relUpdate, cosUpdate and active [nLayer, nTokens].
struct LayerSkipPositions {
  std::vector<int32_t> top1;
  std::vector<float> relUpdate, cosUpdate;
  std::vector<unsigned char> active;
};
LayerSkipPositions layerSkipPositions(const Trace& base);
// selectPosition from those values instead of the trace (the same numbers).
void selectPosition(const LayerSkipPositions& at, LayerSkipResult& r, int position);

// The JSON written by `layerlens-cli skip` and the GUI's data export: kl, kl_mean, top1_changed,
// rel_update (the CLI contract) plus cos_update, active, top1, top1_skip, position, sublayer.
// With `all` also kl_all, top1_skip_all, rel_update_all, cos_update_all, active_all
// ([nLayer][nTokens]) and top1_all ([nTokens]).
nlohmann::json layerSkipJson(const LayerSkipResult& r, const LayerSkipPositions* all = nullptr);
// Its inverse (layer_skip_parse.cpp), for a document from a server: shapes checked against the
// model's nLayer and the prompt's nTokens, tokens against nVocab; *all (when given) receives the
// every-position values, which the document must then hold. Throws std::invalid_argument naming
// the field.
LayerSkipResult parseLayerSkipJson(const nlohmann::json& j, int nLayer, int nTokens, int nVocab,
                                   LayerSkipPositions* all = nullptr);

}  // namespace ll::rt::ana
