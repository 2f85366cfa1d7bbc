// Direct logit attribution (§13): on stories260K (RMSNorm), gpt2-tiny (LayerNorm, biases, learned
// positions), a MoE fixture and gemma2-tiny (post norms, logit soft-cap) the terms sum to the
// trace's logit; heads sum to their layer; and a few terms recomputed here in double precision
// from the trace and the model file's tensors (not through the function under test).
#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "ana_common.h"
#include "runtime/analysis/attribution.h"
#include "runtime/engine/engine.h"

using namespace ll::rt;
using namespace ll::rt::ana;

namespace {

const std::vector<int32_t> kIds = {1, 30, 45, 100, 7, 12, 60, 5, 33};

std::shared_ptr<const Trace> runIds(Session& s, const std::vector<int32_t>& ids,
                                    const RunRequest& req = {}) {
  s.setPromptIds(ids);
  return s.run(req);
}

std::unique_ptr<Session> open(const std::string& file) {
  auto s = std::make_unique<Session>();
  BackendChoice b;
  b.threads = 2;
  s->attach(anatest::model(file), b);
  return s;
}

std::string versus(const char* what, double got, double want) {
  std::ostringstream os;
  os << what << ": " << got << " vs " << want;
  return os.str();
}

// The sum and head checks every fixture passes. Tolerance: terms are float sums of d products.
void checkSums(Session& s, const Trace& tr, int32_t a, int32_t b, int P) {
  const Attribution r = directLogitAttribution(s.engine(), tr, {a, b, P});
  QCOMPARE(int(r.attn.size()), tr.nLayer);
  QCOMPARE(int(r.heads.size()), tr.nLayer * tr.nHead);
  const float* lg = tr.logitsRow(r.position);
  const double model = double(lg[a]) - (b >= 0 ? double(lg[b]) : 0.0);
  QVERIFY2(std::fabs(r.modelLogit - model) <= 1e-4 * std::max(1.0, std::fabs(model)),
           versus("model logit vs trace", r.modelLogit, model));
  double scale = std::fabs(r.embed) + std::fabs(r.bias);
  for (double v : r.attn) scale += std::fabs(v);
  for (double v : r.mlp) scale += std::fabs(v);
  QVERIFY2(std::fabs(r.total() - r.logit) <= 1e-4 * std::max(1.0, scale),
           versus("sum vs logit", r.total(), r.logit));
  for (int l = 0; l < r.nLayer; ++l) {
    double hs = 0, hScale = 0;
    for (int h = 0; h < r.nHead; ++h) {
      hs += r.head(l, h);
      hScale += std::fabs(r.head(l, h));
    }
    QVERIFY2(std::fabs(hs - r.attn[l]) <= 1e-4 * std::max(1.0, hScale),
             versus(("heads vs attn of layer " + std::to_string(l)).c_str(), hs, r.attn[l]));
  }
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

int top1(const Trace& tr, int P) {
  const float* lg = tr.logitsRow(P);
  return int(std::max_element(lg, lg + tr.nVocab) - lg);
}

double dot(const std::vector<double>& a, const float* b) {
  double acc = 0;
  for (size_t i = 0; i < a.size(); ++i) acc += a[i] * b[i];
  return acc;
}

}  // namespace

// Dense RMSNorm, LayerNorm with biases, two MoE layouts, Gemma 2 (post norms, soft-cap) and qwen2.
LL_TEST(sumsToTheLogit) {
  LL_REQUIRE_SHARED();
  for (const char* file : {"stories260K.gguf", "gpt2-tiny-f16.gguf", "stories260K-moe4.gguf",
                           "olmoe-tiny.gguf", "gemma2-tiny.gguf", "qwen2-tiny.gguf"}) {
    std::printf("  %s\n", file);
    auto s = open(file);
    auto tr = runIds(*s, kIds);
    const int last = tr->nTokens - 1;
    checkSums(*s, *tr, top1(*tr, last), -1, -1);
    checkSums(*s, *tr, top1(*tr, 3), 7, 3);  // a difference, at an inner position
  }
}

// Steering enters the stream as a constant: it lands in bias and the identity still holds.
LL_TEST(steeringIsABiasTerm) {
  LL_REQUIRE_SHARED();
  auto s = open("stories260K.gguf");
  RunRequest req;
  Steering st;
  st.layer = 1;
  st.alpha = 2.0f;
  st.vector.assign(s->model().spec.nEmbd, 0.25f);
  req.interventions.steering.push_back(st);
  auto tr = runIds(*s, kIds, req);
  checkSums(*s, *tr, top1(*tr, 8), -1, 8);
  const Attribution r = directLogitAttribution(s->engine(), *tr, {top1(*tr, 8), -1, 8});
  QVERIFY(std::fabs(r.steering) > 1e-6);
}

// Independent double-precision recomputation on stories260K: the embedding term and two heads'
// terms (values from the stored layer input, attention from the stored Q/K, causal softmax).
LL_TEST(matchesAPlainRecomputation) {
  LL_REQUIRE_SHARED();
  auto s = open("stories260K.gguf");
  auto tr = runIds(*s, kIds);
  const Model& m = s->model();
  const ModelSpec& sp = m.spec;
  const int d = sp.nEmbd, H = sp.nHead, hd = sp.headDim, kvd = sp.nHeadKv * hd;
  const int P = 6, a = 20, b = 40;
  const Attribution r = directLogitAttribution(s->engine(), *tr, {a, b, P});
  const std::vector<float> W = anatest::tensorF32(
      m, m.weights.find("output.weight") ? "output.weight" : "token_embd.weight");
  const std::vector<float> g = anatest::tensorF32(m, "output_norm.weight");
  const float* xL = tr->layers.back().resid.data() + size_t(P) * d;
  double ss = 0;
  for (int i = 0; i < d; ++i) ss += double(xL[i]) * xL[i];
  const double sc = 1.0 / std::sqrt(ss / d + sp.normEps);
  std::vector<double> w(d);
  for (int i = 0; i < d; ++i)
    w[i] = (double(W[size_t(a) * d + i]) - W[size_t(b) * d + i]) * g[i] * sc;
  const double embed = dot(w, tr->embd.data() + size_t(P) * d);
  QVERIFY2(std::fabs(embed - r.embed) <= 1e-5 * std::max(1.0, std::fabs(embed)),
           versus("embed", r.embed, embed));
  double maxDiff = 0;
  for (int l : {0, tr->nLayer - 1}) {
    const std::string blk = "blk." + std::to_string(l) + ".";
    const std::vector<float> gn = anatest::tensorF32(m, blk + "attn_norm.weight");
    const std::vector<float> Wv = anatest::tensorF32(m, blk + "attn_v.weight");
    const std::vector<float> Wo = anatest::tensorF32(m, blk + "attn_output.weight");
    const float* in = (l == 0 ? tr->embd : tr->layers[l - 1].resid).data();
    std::vector<double> V(size_t(P + 1) * kvd);
    for (int t = 0; t <= P; ++t) {
      double s2 = 0;
      for (int i = 0; i < d; ++i) s2 += double(in[size_t(t) * d + i]) * in[size_t(t) * d + i];
      const double inv = 1.0 / std::sqrt(s2 / d + sp.normEps);
      for (int o = 0; o < kvd; ++o) {
        double acc = 0;
        for (int i = 0; i < d; ++i)
          acc += double(Wv[size_t(o) * d + i]) * in[size_t(t) * d + i] * inv * gn[i];
        V[size_t(t) * kvd + o] = acc;
      }
    }
    const std::vector<float> q = tr->queries(l, P, P + 1);
    const float* K = tr->layers[l].k.data();
    for (int h : {0, H - 1}) {
      const int grp = h / (H / sp.nHeadKv);
      std::vector<double> sco(P + 1);
      double mx = -1e300, z = 0;
      for (int t = 0; t <= P; ++t) {
        double acc = 0;
        for (int j = 0; j < hd; ++j)
          acc += double(q[size_t(h) * hd + j]) * K[size_t(t) * kvd + size_t(grp) * hd + j];
        sco[t] = acc * tr->attnScale;
        mx = std::max(mx, sco[t]);
      }
      for (double& v : sco) z += (v = std::exp(v - mx));
      double term = 0;
      for (int i = 0; i < d; ++i) {
        double o = 0;
        for (int j = 0; j < hd; ++j) {
          double zj = 0;
          for (int t = 0; t <= P; ++t) zj += sco[t] / z * V[size_t(t) * kvd + grp * hd + j];
          o += double(Wo[size_t(i) * H * hd + size_t(h) * hd + j]) * zj;
        }
        term += w[i] * o;
      }
      maxDiff = std::max(maxDiff, std::fabs(term - r.head(l, h)) / std::max(0.1, std::fabs(term)));
    }
  }
  std::printf("plain recomputation of 4 head terms: max relative difference %.3g\n", maxDiff);
  QVERIFY(maxDiff <= 1e-4);
}

// gpt2's LayerNorm: the bias term is u . beta_final plus every b_O and b_down read through the
// frozen norm (mean-centred), computed here from the file's tensors.
LL_TEST(gpt2BiasTermIsPlain) {
  LL_REQUIRE_SHARED();
  auto s = open("gpt2-tiny-f16.gguf");
  auto tr = runIds(*s, kIds);
  const Model& m = s->model();
  const ModelSpec& sp = m.spec;
  const int d = sp.nEmbd, P = tr->nTokens - 1, a = top1(*tr, P);
  const Attribution r = directLogitAttribution(s->engine(), *tr, {a, -1, P});
  const std::vector<float> W = anatest::tensorF32(
      m, m.weights.find("output.weight") ? "output.weight" : "token_embd.weight");
  const std::vector<float> g = anatest::tensorF32(m, "output_norm.weight");
  const std::vector<float> beta = anatest::tensorF32(m, "output_norm.bias");
  const float* xL = tr->layers.back().resid.data() + size_t(P) * d;
  const double mean = std::accumulate(xL, xL + d, 0.0) / d;
  double var = 0;
  for (int i = 0; i < d; ++i) var += (xL[i] - mean) * (xL[i] - mean);
  const double sc = 1.0 / std::sqrt(var / d + sp.normEps);
  std::vector<double> w(d);
  for (int i = 0; i < d; ++i) w[i] = double(W[size_t(a) * d + i]) * g[i] * sc;
  auto readout = [&](const float* v) {  // the frozen LayerNorm applied to a stream update
    const double mv = std::accumulate(v, v + d, 0.0) / d;
    double acc = 0;
    for (int i = 0; i < d; ++i) acc += w[i] * (v[i] - mv);
    return acc;
  };
  double bias = 0;
  for (int i = 0; i < d; ++i) bias += double(W[size_t(a) * d + i]) * beta[i];
  for (int l = 0; l < sp.nLayer; ++l) {
    const std::string blk = "blk." + std::to_string(l) + ".";
    bias += readout(anatest::tensorF32(m, blk + "attn_output.bias").data());
    bias += readout(anatest::tensorF32(m, blk + "ffn_down.bias").data());
  }
  const double embed = readout(tr->embd.data() + size_t(P) * d);
  QVERIFY2(std::fabs(bias - r.bias) <= 1e-4 * std::max(1.0, std::fabs(bias)),
           versus("bias", r.bias, bias));
  QVERIFY2(std::fabs(embed - r.embed) <= 1e-4 * std::max(1.0, std::fabs(embed)),
           versus("embed", r.embed, embed));
}

LL_TEST(badRequestsThrow) {
  LL_REQUIRE_SHARED();
  auto s = open("stories260K.gguf");
  auto tr = runIds(*s, kIds);
  const int V = tr->nVocab;
  QVERIFY(throwsInvalid([&] { directLogitAttribution(s->engine(), *tr, {V, -1, -1}); }));
  QVERIFY(throwsInvalid([&] { directLogitAttribution(s->engine(), *tr, {-1, -1, -1}); }));
  QVERIFY(throwsInvalid([&] { directLogitAttribution(s->engine(), *tr, {1, V + 3, -1}); }));
  QVERIFY(throwsInvalid([&] { directLogitAttribution(s->engine(), *tr, {1, -1, tr->nTokens}); }));
}
LL_TEST_MAIN("tst_attribution")
