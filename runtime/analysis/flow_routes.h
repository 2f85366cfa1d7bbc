// Information-flow routes (ALGORITHMS.md §14, Ferrando & Voita as in llm-transparency-tool): the
// graph of L1 contributions between residual-stream nodes (layer, token) and the routes that
// lead to one output token, computed per destination on the fly (never the [T, T, H, d] tensor).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/api/trace.h"

namespace ll::rt {
class Engine;
}

namespace ll::rt::ana {

// The one definition of the analysis's parameters (CLI options, GUI controls and sessions bind to
// it).
struct FlowRequest {
  double threshold = 0.04;  // τ
  int position = -1;        // output token whose routes are walked; negative counts from the end
  // Bound-based pruning of the attention pairs (the kept edges stay exact, see flow_compute.cpp);
  // false evaluates every (destination, source) pair (the reference, quadratic in T).
  bool prune = true;
  // Host threads for the per-destination work (the backend keeps its own); <= 0: all cores.
  int threads = 0;
};
inline constexpr const char* kFlowThresholdHelp =
    "contribution threshold τ in [0, 1): per destination node, parts whose share of the block's "
    "contributions is below τ are dropped and the rest renormalised to sum 1 (default 0.04; 0 "
    "keeps every part)";
inline constexpr const char* kFlowPositionHelp =
    "token index whose routes are walked back from the last layer's output (negative counts from "
    "the end; default: the last token)";

// What an edge is. Levels of the residual stream: 2l is the input of layer l (0: the embeddings),
// 2l + 1 the stream after layer l's attention, 2L the model's output (before the final norm).
enum class FlowEdgeKind : uint8_t {
  Attn,       // source token's attention part: level 2l -> 2l + 1
  AttnResid,  // the residual through the attention block (src == dst): 2l -> 2l + 1
  Mlp,        // the MLP (or MoE) output: 2l + 1 -> 2l + 2 (src == dst)
  MlpResid,   // the residual through the MLP block: 2l + 1 -> 2l + 2 (src == dst)
};
std::string flowEdgeKindName(FlowEdgeKind k);  // "attn", "attn_resid", "mlp", "mlp_resid"

struct FlowEdge {
  int layer = 0;
  FlowEdgeKind kind = FlowEdgeKind::Attn;
  int src = 0, dst = 0;  // tokens (sequence indices)
  float weight = 0;      // renormalised contribution; a destination's kept edges sum to 1
  int srcLevel() const {
    return 2 * layer + (kind == FlowEdgeKind::Mlp || kind == FlowEdgeKind::MlpResid);
  }
  int dstLevel() const { return srcLevel() + 1; }
};

struct FlowGraph {
  int nLayer = 0, nTokens = 0;
  double threshold = 0.04;
  // Ordered by layer, then block (attention, MLP), then destination token.
  std::vector<FlowEdge> edges;
  int64_t pairsTotal = 0;      // attention (destination, source) pairs of all layers
  int64_t pairsEvaluated = 0;  // of which the exact contribution was computed
  int nLevels() const { return 2 * nLayer + 1; }
  int nodeId(int level, int token) const { return level * nTokens + token; }
};

// Routes to one output token: walking back from node (2L, position) along kept edges. The flow of
// a node is the sum over routes of the product of their edge weights (1 at the start; at most 1
// per level because a destination's edges sum to 1); an edge's flow is its destination's flow
// times its weight. On a route = flow > 0.
struct FlowRoutes {
  int position = 0;
  std::vector<double> nodeFlow;  // [nLevels * nTokens], index FlowGraph::nodeId
  std::vector<double> edgeFlow;  // [edges.size()]
};

// (layersDone, nLayer) -> false to cancel (throws ll::rt::Cancelled).
using FlowProgress = std::function<bool(int, int)>;

// The graph of a full-capture trace of the engine's model. Throws std::invalid_argument on a
// trace without full capture (early exit, logits only), a threshold outside [0, 1) or a model
// whose attention output is normalised before it joins the stream (Gemma's post-attention norm:
// its parts do not add up to the block's update, so §14's contributions are not defined there).
// Runs on the thread that owns the engine (its backend computes values and attention rows).
FlowGraph flowGraph(Engine& engine, const Trace& tr, const FlowRequest& req = {},
                    const FlowProgress& progress = {});

// Throws std::invalid_argument when position is out of range.
FlowRoutes flowRoutes(const FlowGraph& g, int position);

// The JSON written by `layerlens-cli flow` and the GUI's data export (fields in the README).
nlohmann::json flowJson(const FlowGraph& g, const FlowRoutes& routes,
                        const std::vector<int32_t>& ids);
// The graph of that document read back (flow_parse.cpp), for a document from a server: n_layer and
// n_tokens must be the model's and the prompt's, tokens the prompt's ids, and every edge a kind
// with its node ids, layer and tokens consistent. Throws std::invalid_argument naming the field.
FlowGraph parseFlowJson(const nlohmann::json& j, int nLayer, const std::vector<int32_t>& ids);

}  // namespace ll::rt::ana
