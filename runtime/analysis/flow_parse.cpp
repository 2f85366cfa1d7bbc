// flowJson read back (flow_routes.h): the graph of a server's flow document (its edges, counts and
// threshold; the routes are walked again from the graph), every edge checked against the shape.
#include "runtime/analysis/document_reader.h"
#include "runtime/analysis/flow_routes.h"

namespace ll::rt::ana {

namespace {

FlowEdgeKind edgeKind(const DocumentReader& d, const nlohmann::json& v) {
  for (FlowEdgeKind k :
       {FlowEdgeKind::Attn, FlowEdgeKind::AttnResid, FlowEdgeKind::Mlp, FlowEdgeKind::MlpResid})
    if (v.is_string() && v.get<std::string>() == flowEdgeKindName(k)) return k;
  d.bad("kind", "attn, attn_resid, mlp or mlp_resid");
}

}  // namespace

FlowGraph parseFlowJson(const nlohmann::json& j, int nLayer, const std::vector<int32_t>& ids) {
  const DocumentReader d("flow document", j);
  const int T = static_cast<int>(ids.size());
  FlowGraph g;
  g.nLayer = static_cast<int>(d.integer("n_layer", nLayer, nLayer));
  g.nTokens = static_cast<int>(d.integer("n_tokens", T, T));
  g.threshold = d.number("threshold");
  if (!(g.threshold >= 0 && g.threshold < 1)) d.bad("threshold", "in [0, 1)");
  if (d.integers("tokens", size_t(T), INT32_MIN, INT32_MAX) != ids)
    d.bad("tokens", "the prompt's token ids");
  constexpr int64_t kMaxCount = int64_t(1) << 62;
  g.pairsTotal = d.integer("pairs_total", 0, kMaxCount);
  g.pairsEvaluated = d.integer("pairs_evaluated", 0, g.pairsTotal);
  // Per layer and destination: at most every source and the residual (attention), the MLP and its
  // residual.
  const int64_t maxEdges = int64_t(nLayer) * T * (int64_t(T) + 3);
  const nlohmann::json& edges = d.field("edges");
  if (!edges.is_array() || int64_t(edges.size()) > maxEdges)
    d.bad("edges", "an array of at most nLayer * nTokens * (nTokens + 3) edges");
  g.edges.reserve(edges.size());
  for (size_t k = 0; k < edges.size(); ++k) {
    const DocumentReader x("flow document: edges[" + std::to_string(k) + "]", edges[k]);
    FlowEdge f;
    f.layer = static_cast<int>(x.integer("layer", 0, nLayer - 1));
    f.kind = edgeKind(x, x.field("kind"));
    f.src = static_cast<int>(x.integer("src_token", 0, T - 1));
    f.dst = static_cast<int>(x.integer("dst_token", 0, T - 1));
    if (f.kind != FlowEdgeKind::Attn && f.src != f.dst)
      x.bad("src_token", "the destination token on a residual or MLP edge");
    f.weight = x.floatAt("weight", x.field("weight"));
    if (x.integer("src", 0, kMaxCount) != g.nodeId(f.srcLevel(), f.src))
      x.bad("src", "the node of src_token at the edge's level");
    if (x.integer("dst", 0, kMaxCount) != g.nodeId(f.dstLevel(), f.dst))
      x.bad("dst", "the node of dst_token at the edge's level");
    g.edges.push_back(f);
  }
  return g;
}

}  // namespace ll::rt::ana
