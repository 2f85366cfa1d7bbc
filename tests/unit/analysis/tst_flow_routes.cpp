// Information-flow routes (§14): the graph against a plain double-precision computation that
// materialises every per-head part [T, T, H, d] from the model file's tensors and the trace
// (stories260K: GQA; gpt2-tiny: LayerNorm, fused QKV, biases; a MoE fixture; qwen2: V bias), the
// pruned graph against the exhaustive one on a longer prompt, tau = 0 keeping every part, and
// the route walk on a hand-made graph.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <stdexcept>
#include <tuple>

#include "ana_common.h"
#include "runtime/analysis/flow_routes.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

const std::vector<int32_t> kIds = {1, 30, 45, 100, 7, 12, 60, 5, 33, 90, 14};

std::unique_ptr<Session> open(const std::string& file) {
  auto s = std::make_unique<Session>();
  BackendChoice b;
  b.threads = 2;
  s->attach(anatest::model(file), b);
  return s;
}

std::shared_ptr<const Trace> runIds(Session& s, const std::vector<int32_t>& ids) {
  s.setPromptIds(ids);
  return s.run({});
}

using EdgeKey = std::tuple<int, int, int, int>;  // layer, kind, src, dst
std::map<EdgeKey, double> edgeMap(const FlowGraph& g) {
  std::map<EdgeKey, double> m;
  for (const FlowEdge& e : g.edges) m[{e.layer, int(e.kind), e.src, e.dst}] = e.weight;
  return m;
}

// Same edge set, weights within tol; returns the largest weight difference (inf on a set change).
double compareGraphs(const std::map<EdgeKey, double>& a, const std::map<EdgeKey, double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (const auto& [k, w] : a) {
    auto it = b.find(k);
    if (it == b.end()) return INFINITY;
    m = std::max(m, std::fabs(w - it->second));
  }
  return m;
}

double l1(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += std::fabs(x);
  return s;
}

// Threshold and renormalise one destination's contributions (keys: part ids).
void keep(const std::vector<std::pair<EdgeKey, double>>& parts, double tau,
          std::map<EdgeKey, double>& out) {
  double sum = 0;
  for (const auto& p : parts) sum += p.second;
  double kept = 0;
  std::vector<std::pair<EdgeKey, double>> k;
  for (const auto& p : parts)
    if (sum > 0 ? p.second / sum >= tau : tau <= 0) {
      k.push_back(p);
      kept += p.second;
    }
  for (const auto& p : k) out[p.first] = kept > 0 ? p.second / kept : 0.0;
}

// The plain computation: every tensor from the file, in double, every (i, j, h) part stored.
std::map<EdgeKey, double> plainGraph(const Model& m, const Trace& tr, double tau) {
  const ModelSpec& sp = m.spec;
  const int T = tr.nTokens, d = sp.nEmbd, H = sp.nHead, hd = sp.headDim, kvd = sp.nHeadKv * hd,
            qd = H * hd, group = H / sp.nHeadKv;
  std::map<EdgeKey, double> out;
  for (int l = 0; l < sp.nLayer; ++l) {
    const std::string blk = "blk." + std::to_string(l) + ".";
    auto tensor = [&](const std::string& n) {
      return m.weights.find(blk + n) ? anatest::tensorF32(m, blk + n) : std::vector<float>{};
    };
    const std::vector<float> gn = tensor("attn_norm.weight"), bn = tensor("attn_norm.bias");
    std::vector<float> Wv = tensor("attn_v.weight"), bv = tensor("attn_v.bias");
    if (Wv.empty()) {  // gpt2: V is the last kvd rows of the fused QKV
      const std::vector<float> qkv = tensor("attn_qkv.weight"), qkvb = tensor("attn_qkv.bias");
      Wv.assign(qkv.begin() + size_t(qd + kvd) * d, qkv.end());
      if (!qkvb.empty()) bv.assign(qkvb.begin() + qd + kvd, qkvb.end());
    }
    const std::vector<float> Wo = tensor("attn_output.weight");
    const float* in = (l == 0 ? tr.embd : tr.layers[l - 1].resid).data();
    std::vector<double> V(size_t(T) * kvd);
    for (int t = 0; t < T; ++t) {
      const float* x = in + size_t(t) * d;
      std::vector<double> h(x, x + d);
      double mean = 0;
      if (sp.norm == NormKind::LayerNorm) mean = std::accumulate(h.begin(), h.end(), 0.0) / d;
      double ss = 0;
      for (double& v : h) ss += (v - mean) * (v - mean);
      const double inv = 1.0 / std::sqrt(ss / d + sp.normEps);
      for (int i = 0; i < d; ++i) h[i] = (h[i] - mean) * inv * gn[i] + (bn.empty() ? 0.0 : bn[i]);
      for (int o = 0; o < kvd; ++o) {
        double acc = bv.empty() ? 0.0 : bv[o];
        for (int i = 0; i < d; ++i) acc += double(Wv[size_t(o) * d + i]) * h[i];
        V[size_t(t) * kvd + o] = acc;
      }
    }
    // Causal softmax of the stored queries and keys: A[h][i][j].
    const std::vector<float> q = tr.queries(l, 0, T);
    const float* K = tr.layers[l].k.data();
    std::vector<double> A(size_t(H) * T * T, 0.0);
    for (int hh = 0; hh < H; ++hh)
      for (int i = 0; i < T; ++i) {
        const int g = hh / group;
        std::vector<double> sc(i + 1);
        double mx = -1e300, z = 0;
        for (int j = 0; j <= i; ++j) {
          double acc = 0;
          for (int k = 0; k < hd; ++k)
            acc +=
                double(q[size_t(i) * qd + size_t(hh) * hd + k]) * K[size_t(j) * kvd + g * hd + k];
          sc[j] = acc * tr.attnScale;
          mx = std::max(mx, sc[j]);
        }
        for (double& v : sc) z += (v = std::exp(v - mx));
        for (int j = 0; j <= i; ++j) A[(size_t(hh) * T + i) * T + j] = sc[j] / z;
      }
    // Every per-head part, materialised: P[i][j][h][k] = a_hij (W_O,h v_hj)_k.
    std::vector<double> P(size_t(T) * T * H * d, 0.0);
    for (int i = 0; i < T; ++i)
      for (int j = 0; j <= i; ++j)
        for (int hh = 0; hh < H; ++hh) {
          const double a = A[(size_t(hh) * T + i) * T + j];
          const int g = hh / group;
          for (int k = 0; k < d; ++k) {
            double acc = 0;
            for (int e = 0; e < hd; ++e)
              acc += double(Wo[size_t(k) * qd + size_t(hh) * hd + e]) *
                     V[size_t(j) * kvd + g * hd + e];
            P[((size_t(i) * T + j) * H + hh) * d + k] = a * acc;
          }
        }
    for (int i = 0; i < T; ++i) {
      const float* y = tr.layers[l].residMid.data() + size_t(i) * d;
      const float* x = in + size_t(i) * d;
      std::vector<double> yv(y, y + d), diff(d);
      const double ny = l1(yv);
      std::vector<std::pair<EdgeKey, double>> parts;
      for (int k = 0; k < d; ++k) diff[k] = yv[k] - x[k];
      parts.push_back({{l, int(FlowEdgeKind::AttnResid), i, i}, std::max(0.0, ny - l1(diff))});
      for (int j = 0; j <= i; ++j) {
        for (int k = 0; k < d; ++k) {
          double z = 0;
          for (int hh = 0; hh < H; ++hh) z += P[((size_t(i) * T + j) * H + hh) * d + k];
          diff[k] = yv[k] - z;
        }
        parts.push_back({{l, int(FlowEdgeKind::Attn), j, i}, std::max(0.0, ny - l1(diff))});
      }
      keep(parts, tau, out);
      // MLP block: y = out, parts = out - mid and mid.
      const float* o = tr.layers[l].resid.data() + size_t(i) * d;
      std::vector<double> ov(o, o + d), dm(d), dr(d);
      const double no = l1(ov);
      for (int k = 0; k < d; ++k) {
        dm[k] = double(o[k]) - (double(o[k]) - y[k]);  // y - mlp part
        dr[k] = double(o[k]) - y[k];                   // y - residual part
      }
      keep({{{l, int(FlowEdgeKind::Mlp), i, i}, std::max(0.0, no - l1(dm))},
            {{l, int(FlowEdgeKind::MlpResid), i, i}, std::max(0.0, no - l1(dr))}},
           tau, out);
    }
  }
  return out;
}

template <class F>
bool throwsInvalid(F f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

}  // namespace

LL_TEST(matchesAPlainComputation) {
  LL_REQUIRE_SHARED();
  double worst = 0;
  for (const char* file :
       {"stories260K.gguf", "gpt2-tiny-f16.gguf", "stories260K-moe4.gguf", "qwen2-tiny.gguf"}) {
    auto s = open(file);
    auto tr = runIds(*s, kIds);
    for (double tau : {0.04, 0.0}) {
      const auto want = plainGraph(s->model(), *tr, tau);
      for (bool prune : {true, false}) {
        FlowRequest req;
        req.threshold = tau;
        req.prune = prune;
        const FlowGraph g = flowGraph(s->engine(), *tr, req);
        const double diff = compareGraphs(edgeMap(g), want);
        std::printf("  %s tau %.2f prune %d: %zu edges, max weight difference %.3g\n", file, tau,
                    int(prune), g.edges.size(), diff);
        worst = std::max(worst, diff);
        QVERIFY2(diff <= 1e-4, file);
      }
    }
  }
  std::printf("plain computation: max edge weight difference %.3g\n", worst);
}

// At tau = 0 every part is an edge: per layer and destination i, i + 1 sources, the residual and
// the two MLP parts.
LL_TEST(zeroThresholdKeepsEveryPart) {
  LL_REQUIRE_SHARED();
  auto s = open("stories260K.gguf");
  auto tr = runIds(*s, kIds);
  FlowRequest req;
  req.threshold = 0;
  const FlowGraph g = flowGraph(s->engine(), *tr, req);
  const int64_t T = tr->nTokens;
  QCOMPARE(int64_t(g.edges.size()), int64_t(tr->nLayer) * (T * (T + 1) / 2 + T + 2 * T));
  QCOMPARE(g.pairsEvaluated, g.pairsTotal);
  // And each destination's weights sum to 1.
  std::map<std::tuple<int, int, int>, double> sums;
  for (const FlowEdge& e : g.edges) sums[{e.layer, e.dstLevel(), e.dst}] += e.weight;
  for (const auto& [k, v] : sums) QVERIFY(std::fabs(v - 1.0) < 1e-5);
}

// A longer prompt: the pruned graph equals the exhaustive one at the default threshold, and the
// pruning skipped most pairs.
LL_TEST(pruningIsExact) {
  LL_REQUIRE_SHARED();
  for (const char* file : {"stories260K.gguf", "stories260K-moe4.gguf"}) {
    auto s = open(file);
    std::vector<int32_t> ids;
    for (int t = 0; t < 96; ++t) ids.push_back(int32_t((t * 37 + 11) % 500 + 1));
    auto tr = runIds(*s, ids);
    FlowRequest req;
    const FlowGraph pruned = flowGraph(s->engine(), *tr, req);
    req.prune = false;
    const FlowGraph full = flowGraph(s->engine(), *tr, req);
    const double diff = compareGraphs(edgeMap(pruned), edgeMap(full));
    std::printf("  %s: %zu edges, evaluated %lld of %lld pairs, max difference %.3g\n", file,
                pruned.edges.size(), (long long)pruned.pairsEvaluated, (long long)pruned.pairsTotal,
                diff);
    QVERIFY(diff <= 1e-6);
    QCOMPARE(full.pairsEvaluated, full.pairsTotal);
    QVERIFY(pruned.pairsEvaluated < pruned.pairsTotal / 2);
  }
}

// One layer, three tokens, edges chosen by hand; flows worked out on paper.
LL_TEST(routeWalkOnAHandMadeGraph) {
  FlowGraph g;
  g.nLayer = 1;
  g.nTokens = 3;
  auto add = [&](FlowEdgeKind k, int src, int dst, float w) {
    g.edges.push_back({0, k, src, dst, w});
  };
  add(FlowEdgeKind::AttnResid, 0, 0, 1.0f);
  add(FlowEdgeKind::Attn, 0, 1, 0.5f);
  add(FlowEdgeKind::AttnResid, 1, 1, 0.5f);
  add(FlowEdgeKind::Attn, 0, 2, 0.25f);
  add(FlowEdgeKind::Attn, 1, 2, 0.25f);
  add(FlowEdgeKind::AttnResid, 2, 2, 0.5f);
  add(FlowEdgeKind::MlpResid, 0, 0, 1.0f);
  add(FlowEdgeKind::Mlp, 1, 1, 1.0f);
  add(FlowEdgeKind::Mlp, 2, 2, 0.25f);
  add(FlowEdgeKind::MlpResid, 2, 2, 0.75f);
  const FlowRoutes r = flowRoutes(g, -1);
  QCOMPARE(r.position, 2);
  auto node = [&](int level, int t) { return r.nodeFlow[size_t(g.nodeId(level, t))]; };
  QCOMPARE(node(2, 2), 1.0);
  QCOMPARE(node(2, 1), 0.0);
  QCOMPARE(node(1, 2), 1.0);  // mlp 0.25 + residual 0.75, both from mid(2)
  QCOMPARE(node(1, 1), 0.0);  // mid(1) feeds only token 1's output, not on the route
  QCOMPARE(node(0, 0), 0.25);
  QCOMPARE(node(0, 1), 0.25);
  QCOMPARE(node(0, 2), 0.5);
  QCOMPARE(r.edgeFlow[1], 0.0);  // 0 -> 1 feeds mid(1), off the route
  QCOMPARE(r.edgeFlow[3], 0.25);
  QCOMPARE(r.edgeFlow[8], 0.25);
  QCOMPARE(r.edgeFlow[9], 0.75);
  const FlowRoutes r1 = flowRoutes(g, 1);
  QCOMPARE(r1.nodeFlow[size_t(g.nodeId(0, 0))], 0.5);
  QCOMPARE(r1.nodeFlow[size_t(g.nodeId(0, 2))], 0.0);
  QVERIFY(throwsInvalid([&] { flowRoutes(g, 3); }));
  QVERIFY(throwsInvalid([&] { flowRoutes(g, -4); }));
}

LL_TEST(badRequestsThrow) {
  LL_REQUIRE_SHARED();
  auto s = open("stories260K.gguf");
  auto tr = runIds(*s, kIds);
  FlowRequest req;
  req.threshold = 1.0;
  QVERIFY(throwsInvalid([&] { flowGraph(s->engine(), *tr, req); }));
  req.threshold = -0.01;
  QVERIFY(throwsInvalid([&] { flowGraph(s->engine(), *tr, req); }));
  req.threshold = std::nan("");
  QVERIFY(throwsInvalid([&] { flowGraph(s->engine(), *tr, req); }));
  // Gemma 2 norms the attention output before the residual: refused with a reason.
  auto gm = open("gemma2-tiny.gguf");
  auto gt = runIds(*gm, kIds);
  bool refused = false;
  try {
    flowGraph(gm->engine(), *gt, {});
  } catch (const std::invalid_argument& e) {
    refused = std::string(e.what()).find("post-attention norm") != std::string::npos;
  }
  QVERIFY(refused);
}

LL_TEST_MAIN("tst_flow_routes")
