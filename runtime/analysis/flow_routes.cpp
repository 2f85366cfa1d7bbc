// Information-flow routes (§14): edge kinds, the walk back from an output token and the JSON of
// the graph (the computation itself is flow_compute.cpp).
#include "runtime/analysis/flow_routes.h"

#include <stdexcept>

namespace ll::rt::ana {

std::string flowEdgeKindName(FlowEdgeKind k) {
  switch (k) {
    case FlowEdgeKind::Attn:
      return "attn";
    case FlowEdgeKind::AttnResid:
      return "attn_resid";
    case FlowEdgeKind::Mlp:
      return "mlp";
    case FlowEdgeKind::MlpResid:
      return "mlp_resid";
  }
  return "attn";
}

FlowRoutes flowRoutes(const FlowGraph& g, int position) {
  const int P = position < 0 ? g.nTokens + position : position;
  if (P < 0 || P >= g.nTokens)
    throw std::invalid_argument("flow routes: position " + std::to_string(position) +
                                " is out of range (0.." + std::to_string(g.nTokens - 1) + ")");
  FlowRoutes r;
  r.position = P;
  r.nodeFlow.assign(size_t(g.nLevels()) * g.nTokens, 0.0);
  r.edgeFlow.assign(g.edges.size(), 0.0);
  r.nodeFlow[size_t(g.nodeId(g.nLevels() - 1, P))] = 1.0;
  // Edges are ordered by level pair, so walking them backwards finishes every node's incoming
  // flow before its outgoing edges (those into the level below) are reached.
  for (size_t k = g.edges.size(); k-- > 0;) {
    const FlowEdge& e = g.edges[k];
    const double f = r.nodeFlow[size_t(g.nodeId(e.dstLevel(), e.dst))];
    if (f <= 0 || e.weight <= 0) continue;
    r.edgeFlow[k] = f * e.weight;
    r.nodeFlow[size_t(g.nodeId(e.srcLevel(), e.src))] += r.edgeFlow[k];
  }
  return r;
}

nlohmann::json flowJson(const FlowGraph& g, const FlowRoutes& routes,
                        const std::vector<int32_t>& ids) {
  nlohmann::json j;
  j["n_layer"] = g.nLayer;
  j["n_tokens"] = g.nTokens;
  j["threshold"] = g.threshold;
  j["position"] = routes.position;
  j["tokens"] = ids;
  j["pairs_total"] = g.pairsTotal;
  j["pairs_evaluated"] = g.pairsEvaluated;
  nlohmann::json nodes = nlohmann::json::array();
  for (int level = 0; level < g.nLevels(); ++level)
    for (int t = 0; t < g.nTokens; ++t) {
      const char* stage = level == g.nLevels() - 1 ? "out" : (level % 2 ? "mid" : "in");
      nodes.push_back({{"id", g.nodeId(level, t)},
                       {"level", level},
                       {"layer", level / 2},
                       {"stage", stage},
                       {"token", t},
                       {"flow", routes.nodeFlow[size_t(g.nodeId(level, t))]}});
    }
  j["nodes"] = std::move(nodes);
  nlohmann::json edges = nlohmann::json::array();
  for (size_t k = 0; k < g.edges.size(); ++k) {
    const FlowEdge& e = g.edges[k];
    edges.push_back({{"src", g.nodeId(e.srcLevel(), e.src)},
                     {"dst", g.nodeId(e.dstLevel(), e.dst)},
                     {"layer", e.layer},
                     {"kind", flowEdgeKindName(e.kind)},
                     {"src_token", e.src},
                     {"dst_token", e.dst},
                     {"weight", e.weight},
                     {"flow", routes.edgeFlow[k]}});
  }
  j["edges"] = std::move(edges);
  return j;
}

}  // namespace ll::rt::ana
