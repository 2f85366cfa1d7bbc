// Activation patching (ALGORITHMS.md §12): the sweep over (layer, position) and the per-head grid,
// run as Patch interventions on the Session's engine with prefix reuse.
#include "runtime/analysis/patching.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "kernels/backend.h"
#include "runtime/analysis/stats.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"

namespace ll::rt::ana {

std::string patchMetricName(PatchMetric m) {
  return m == PatchMetric::Prob ? "prob" : "logit-diff";
}
std::string patchComponentName(PatchComponent c) {
  return c == PatchComponent::Attn ? "attn" : c == PatchComponent::Mlp ? "mlp" : "resid";
}
std::string patchDirectionName(PatchDirection d) {
  return d == PatchDirection::Noise ? "noise" : "denoise";
}

PatchMetric parsePatchMetric(const std::string& name) {
  if (name == "logit-diff") return PatchMetric::LogitDiff;
  if (name == "prob") return PatchMetric::Prob;
  throw std::invalid_argument("metric '" + name + "' is not one of logit-diff, prob");
}
PatchComponent parsePatchComponent(const std::string& name) {
  if (name == "resid") return PatchComponent::Resid;
  if (name == "attn") return PatchComponent::Attn;
  if (name == "mlp") return PatchComponent::Mlp;
  throw std::invalid_argument("component '" + name + "' is not one of resid, attn, mlp");
}
PatchDirection parsePatchDirection(const std::string& name) {
  if (name == "denoise") return PatchDirection::Denoise;
  if (name == "noise") return PatchDirection::Noise;
  throw std::invalid_argument("direction '" + name + "' is not one of denoise, noise");
}

double patchMetricValue(const float* logits, int nVocab, PatchMetric m, int32_t a, int32_t b) {
  if (m == PatchMetric::LogitDiff) return double(logits[a]) - double(logits[b]);
  double mx = -INFINITY;
  for (int i = 0; i < nVocab; ++i) mx = std::max(mx, double(logits[i]));
  double z = 0;
  for (int i = 0; i < nVocab; ++i) z += std::exp(double(logits[i]) - mx);
  return std::exp(double(logits[a]) - mx) / z;
}

namespace {

// Population standard deviation of every entry of the token embedding matrix (rows read through
// the backend, so quantised matrices are dequantised as the engine sees them).
double embeddingStd(Session& s) {
  Engine& e = s.engine();
  const kern::Weight& w = e.weights().embeddings();
  const int rows = static_cast<int>(w.rows), d = static_cast<int>(w.cols);
  const int chunk = std::max(1, std::min(rows, (1 << 22) / std::max(1, d)));
  kern::Buffer buf(e.backend(), size_t(chunk) * d * 4);
  std::vector<float> host(size_t(chunk) * d);
  std::vector<int32_t> ids(static_cast<size_t>(chunk));
  double sum = 0, sq = 0;
  for (int r = 0; r < rows; r += chunk) {
    const int c = std::min(chunk, rows - r);
    for (int i = 0; i < c; ++i) ids[size_t(i)] = r + i;
    e.backend().getRows(w, ids.data(), c, buf.f32());
    e.backend().download(host.data(), buf.get(), size_t(c) * d * 4);
    for (size_t i = 0; i < size_t(c) * d; ++i) sum += host[i], sq += double(host[i]) * host[i];
  }
  const double n = double(rows) * d, mean = sum / n;
  return std::sqrt(std::max(0.0, sq / n - mean * mean));
}

// Standard normal draws from a 64-bit Mersenne Twister by Box-Muller, written out so the noise
// is the same with every standard library.
class Normal {
 public:
  explicit Normal(uint64_t seed) : m_rng(seed) {}
  double next() {
    const double u1 = (double(m_rng() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = double(m_rng() >> 11) * 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::mt19937_64 m_rng;
};

}  // namespace

std::vector<Patch> noisePatches(Session& s, const PatchingRequest& req, int nTokens) {
  if (req.noiseBegin < 0 || req.noiseEnd <= req.noiseBegin || req.noiseEnd > nTokens)
    throw std::invalid_argument("patching: noise span [" + std::to_string(req.noiseBegin) + ", " +
                                std::to_string(req.noiseEnd) + ") is not a non-empty span of 0.." +
                                std::to_string(nTokens));
  if (!std::isfinite(req.noiseScale) || req.noiseScale <= 0.0f)
    throw std::invalid_argument("patching: the noise scale must be a positive number");
  const int d = s.model().spec.nEmbd;
  const double sd = req.noiseScale * embeddingStd(s);
  Normal rng(req.noiseSeed);
  std::vector<Patch> out;
  for (int t = req.noiseBegin; t < req.noiseEnd; ++t) {
    Patch p;
    p.site = PatchSite::Embedding;
    p.index = t;
    p.add = true;
    p.value.resize(size_t(d));
    for (float& v : p.value) v = static_cast<float>(sd * rng.next());
    out.push_back(std::move(p));
  }
  return out;
}

namespace {

// One sweep: the runs, the source of patched values and the destination run they go into.
struct Sweep {
  Session& s;
  std::vector<int32_t> positions;
  std::vector<int32_t> dstIds;
  Interventions dstIv;
  std::shared_ptr<const Trace> src;  // captured with components
  PatchingRequest req;
  double mc = 0, mr = 0;
  int passes = 0;
  EngineProgress betweenLayers;  // a long pass (a large model) is cancelled within it

  // m_patched with `patch` added to the destination run (capture off, last logits only).
  double patched(Patch patch) {
    Interventions iv = dstIv;
    iv.patches.push_back(std::move(patch));
    auto tr =
        s.engine().run(dstIds, positions, iv, CaptureOptions{false, false}, betweenLayers, false);
    ++passes;
    return patchMetricValue(tr->logits.data(), tr->nVocab, req.metric, req.target, req.other);
  }
  float effect(double m) const { return static_cast<float>((m - mr) / (mc - mr)); }
  Patch componentPatch(int l, int t) const {
    const int d = src->nEmbd;
    const LayerTrace& L = src->layers[size_t(l)];
    const TraceTensor<float>& from = req.component == PatchComponent::Attn  ? L.attnOut
                                     : req.component == PatchComponent::Mlp ? L.mlpOut
                                                                            : L.resid;
    Patch p;
    p.site = req.component == PatchComponent::Attn  ? PatchSite::Attention
             : req.component == PatchComponent::Mlp ? PatchSite::Mlp
                                                    : PatchSite::Resid;
    p.layer = l;
    p.index = t;
    p.value.assign(from.data() + size_t(t) * d, from.data() + size_t(t + 1) * d);
    return p;
  }
  Patch headPatch(int l, int h, int t) const {
    const int hd = src->headDim, qd = src->nHead * hd;
    const float* row = src->layers[size_t(l)].headOut.data() + size_t(t) * qd + size_t(h) * hd;
    Patch p;
    p.site = PatchSite::Head;
    p.layer = l;
    p.index = t;
    p.head = h;
    p.value.assign(row, row + hd);
    return p;
  }
};

int32_t checkedToken(int32_t id, int nVocab, const char* what) {
  if (id < 0 || id >= nVocab)
    throw std::invalid_argument(std::string("patching: ") + what + " token id " +
                                std::to_string(id) + " is out of range (vocabulary size " +
                                std::to_string(nVocab) + ")");
  return id;
}

}  // namespace

PatchingResult activationPatching(Session& s, const std::vector<int32_t>& clean,
                                  const std::vector<int32_t>& corrupted, const PatchingRequest& req,
                                  const Interventions& base, const PatchProgress& progress) {
  const ModelSpec& spec = s.model().spec;
  const int T = static_cast<int>(clean.size()), L = spec.nLayer, H = spec.nHead, V = spec.nVocab;
  if (T == 0) throw std::invalid_argument("patching: the clean prompt is empty");
  if (!base.patches.empty())
    throw std::invalid_argument("patching: the base run already patches a component");
  const bool noise = req.noiseEnd > req.noiseBegin || req.noiseEnd != 0;
  if (noise && !corrupted.empty())
    throw std::invalid_argument(
        "patching: give either a corrupted prompt or a noise span, not both");
  if (!noise && corrupted.empty())
    throw std::invalid_argument("patching: no corruption: give a corrupted prompt or a noise span");
  if (!noise && corrupted.size() != clean.size())
    throw std::invalid_argument(
        "patching: the clean prompt has " + std::to_string(T) + " tokens and the corrupted one " +
        std::to_string(corrupted.size()) + "; they must have the same length");

  PatchingResult r;
  r.nLayer = L;
  r.nTokens = T;
  r.nHead = H;
  r.request = req;
  r.clean = clean;
  r.corrupted = noise ? clean : corrupted;
  Interventions corruptIv = base;
  if (noise) {
    corruptIv.patches = noisePatches(s, req, T);
    r.firstDiff = req.noiseBegin;
  } else {
    while (r.firstDiff < T && clean[size_t(r.firstDiff)] == corrupted[size_t(r.firstDiff)])
      ++r.firstDiff;
    if (r.firstDiff == T)
      throw std::invalid_argument("patching: the clean and corrupted prompts are the same tokens");
  }

  const bool denoise = req.direction == PatchDirection::Denoise;
  std::vector<int32_t> positions(static_cast<size_t>(T));
  for (int i = 0; i < T; ++i) positions[size_t(i)] = i;
  Engine& e = s.engine();
  CaptureOptions srcCap{true, false};
  srcCap.components = true;
  auto src = e.run(denoise ? r.clean : r.corrupted, positions, denoise ? base : corruptIv, srcCap,
                   {}, false);
  auto dst = e.run(denoise ? r.corrupted : r.clean, positions, denoise ? corruptIv : base,
                   CaptureOptions{false, false}, {}, false);
  const float* cleanLogits = (denoise ? src : dst)->logits.data();
  const float* corruptLogits = (denoise ? dst : src)->logits.data();
  r.request.target = req.target >= 0 ? checkedToken(req.target, V, "target")
                                     : rowStats(cleanLogits, V, 1).topIds[0];
  // Default b: the corrupted run's top-1, or its runner-up when that is a itself (a corruption
  // that keeps the answer would otherwise leave logit(a) - logit(a) = 0 everywhere).
  if (req.other >= 0) {
    r.request.other = checkedToken(req.other, V, "other");
  } else {
    const RowStats top2 = rowStats(corruptLogits, V, 2);
    r.request.other = top2.topIds[0] == r.request.target ? top2.topIds[1] : top2.topIds[0];
  }
  if (req.metric == PatchMetric::LogitDiff && r.request.target == r.request.other)
    throw std::invalid_argument(
        "patching: target and other are the same token (id " + std::to_string(r.request.target) +
        "), so the logit difference is 0 in every run; choose another token");
  const int32_t a = r.request.target, b = r.request.other;
  r.metricClean = patchMetricValue(cleanLogits, V, req.metric, a, b);
  r.metricCorrupt = patchMetricValue(corruptLogits, V, req.metric, a, b);
  // m_c == m_r leaves the normalised effect undefined; a gap within 1e-3 of the metric's size
  // would make it rounding noise (passes differ by ~1e-5 relative), so both are refused.
  const double gap = r.metricClean - r.metricCorrupt;
  const double scale = std::max(std::fabs(r.metricClean), std::fabs(r.metricCorrupt));
  const double tol =
      req.metric == PatchMetric::Prob ? 1e-3 * scale + 1e-12 : 1e-3 * std::max(1.0, scale);
  if (!(std::fabs(gap) > tol))
    throw std::invalid_argument(
        "patching: the clean and corrupted runs give the same metric (m_c = " +
        std::to_string(r.metricClean) + ", m_r = " + std::to_string(r.metricCorrupt) +
        "), so the normalised effect (m_patched - m_r) / (m_c - m_r) is undefined; choose other "
        "tokens or another corruption");

  Sweep sw{s,
           positions,
           denoise ? r.corrupted : r.clean,
           denoise ? corruptIv : base,
           src,
           r.request,
           r.metricClean,
           r.metricCorrupt};
  const int total = (T - r.firstDiff) * L + (req.heads ? L * H : 0);
  int done = 0;
  auto step = [&] {
    if (progress && !progress(++done, total)) throw Cancelled();
  };
  if (progress) sw.betweenLayers = [&](int, int) { return progress(done, total); };
  // Heads first: the cache holds the unpatched destination run, so each of these passes
  // recomputes the last row only.
  if (req.heads) {
    r.headMetric.resize(size_t(L) * H);
    r.headEffect.resize(size_t(L) * H);
    for (int l = 0; l < L; ++l)
      for (int h = 0; h < H; ++h) {
        const double m = sw.patched(sw.headPatch(l, h, T - 1));
        r.headMetric[size_t(l) * H + h] = static_cast<float>(m);
        r.headEffect[size_t(l) * H + h] = sw.effect(m);
        step();
      }
  }
  // Positions from the last down: a pass patching at t recomputes rows [t, T) only.
  const double unpatched = denoise ? r.metricCorrupt : r.metricClean;
  r.metric.assign(size_t(L) * T, static_cast<float>(unpatched));
  r.effect.assign(size_t(L) * T, sw.effect(unpatched));
  for (int t = T - 1; t >= r.firstDiff; --t)
    for (int l = 0; l < L; ++l) {
      const double m = sw.patched(sw.componentPatch(l, t));
      r.metric[size_t(l) * T + t] = static_cast<float>(m);
      r.effect[size_t(l) * T + t] = sw.effect(m);
      step();
    }
  r.passes = sw.passes;
  return r;
}

}  // namespace ll::rt::ana
