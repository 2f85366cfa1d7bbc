// Direct logit attribution (ALGORITHMS.md §13): the final logit of a token (or the difference of
// two) at one position split into the embedding, each layer's attention and MLP output, each
// attention head and the constant terms, with the final norm's scale frozen at its run value.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/api/trace.h"

namespace ll::rt {
class Engine;
}

namespace ll::rt::ana {

struct AttributionRequest {
  int32_t target = -1;  // token a (required)
  int32_t other = -1;   // token b: attribute logit(a) - logit(b); -1: logit(a) alone
  int position = -1;    // sequence index P; -1: the last
};

struct Attribution {
  int nLayer = 0, nHead = 0;
  int position = 0;
  int32_t target = -1, other = -1;
  double embed = 0;          // token (and learned position) embedding
  std::vector<double> attn;  // [nLayer] attention output as it enters the stream, biases excluded
  std::vector<double> mlp;  // [nLayer] MLP / MoE (routed + shared) output, constant biases excluded
  std::vector<double> heads;  // [nLayer, nHead] per head; a layer's heads sum to attn[l]
  // Every constant term: the final LayerNorm's bias, attention output biases, dense MLP output
  // biases and steering vectors added to the stream.
  double bias = 0;
  double steering = 0;  // the steering part of bias
  // The model's logit (or difference) at P before any final soft-cap, from its own final norm
  // output: embed + sum(attn) + sum(mlp) + bias equals it to float rounding.
  double logit = 0;
  // Gemma 2's final logit soft-cap is not linear: the terms decompose the pre-softcap logit, and
  // modelLogit is the capped value the model outputs (equal to logit when there is no cap).
  bool softcapped = false;
  double modelLogit = 0;
  double total() const;  // embed + sum(attn) + sum(mlp) + bias
  double head(int layer, int h) const { return heads[size_t(layer) * nHead + h]; }
};

// Throws std::invalid_argument on a trace without full capture (early exit, logits only), a
// position out of range or a token outside the vocabulary. Uses the engine's backend and weights
// (the model the trace was run on); call from the thread that owns the engine.
Attribution directLogitAttribution(Engine& engine, const Trace& tr, const AttributionRequest& req);

// The JSON the CLI writes and the GUI exports (one format): embed, attn [nLayer], mlp [nLayer],
// heads [nLayer][nHead], bias, logit, plus position, target, other (null when none), steering,
// total, softcapped and model_logit.
std::string attributionJson(const Attribution& a);
// Its inverse (attribution_parse.cpp), for a document from a server: the shapes checked against
// the model's nLayer / nHead, tokens against nVocab and the position against nTokens; throws
// std::invalid_argument naming the field.
Attribution parseAttributionJson(const nlohmann::json& j, int nLayer, int nHead, int nVocab,
                                 int nTokens);

}  // namespace ll::rt::ana
