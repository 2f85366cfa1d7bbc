#include "runtime/analysis/steering.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "runtime/analysis/run_helpers.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt::ana {

int defaultSteeringLayer(int nLayer) {
  return static_cast<int>(std::floor(0.7 * nLayer));
}

const float* residAfter(const Trace& tr, int layer, int t) {
  if (!tr.captured) throw std::invalid_argument("steering: the trace was run without capture");
  if (layer < 0 || layer >= tr.nLayer) throw std::invalid_argument("steering: layer out of range");
  if (t < 0 || t >= tr.nTokens) throw std::invalid_argument("steering: token index out of range");
  return tr.layers[layer].resid.data() + size_t(t) * tr.nEmbd;
}

std::string fillTemplate(const std::string& tmpl, const std::string& word) {
  const size_t at = tmpl.find("{word}");
  if (at == std::string::npos) throw std::invalid_argument("steering template has no {word}");
  std::string s = tmpl;
  s.replace(at, 6, word);
  return s;
}

namespace {
void checkLayer(Session& s, int layer) {
  const int L = s.model().spec.nLayer;
  if (layer < 0 || layer >= L)
    throw std::invalid_argument("steering layer " + std::to_string(layer) +
                                " is out of range (0.." + std::to_string(L - 1) + ")");
}
}  // namespace

std::vector<float> conceptVector(Session& s, int layer, const ConceptInput& in) {
  checkLayer(s, layer);
  if (in.baselines.empty()) throw std::invalid_argument("concept vector: no baseline words");
  const int d = s.model().spec.nEmbd;
  auto tr = runIds(s, in.word, {}, true, {}, false);
  const float* h = residAfter(*tr, layer, tr->nTokens - 1);
  std::vector<double> base(d, 0.0);
  for (const auto& b : in.baselines) {
    auto tb = runIds(s, b, {}, true, {}, false);
    const float* hb = residAfter(*tb, layer, tb->nTokens - 1);
    for (int i = 0; i < d; ++i) base[i] += hb[i];
  }
  std::vector<float> v(d);
  for (int i = 0; i < d; ++i) v[i] = static_cast<float>(h[i] - base[i] / in.baselines.size());
  return v;
}

std::vector<float> exampleMean(const Trace& tr, int layer, int32_t bos) {
  const int T = tr.nTokens, d = tr.nEmbd;
  const int first = (T > 0 && tr.ids[0] == bos) ? 1 : 0;
  if (first >= T) throw std::invalid_argument("steering example has no tokens besides BOS");
  std::vector<double> acc(d, 0.0);
  for (int t = first; t < T; ++t) {
    const float* h = residAfter(tr, layer, t);
    for (int i = 0; i < d; ++i) acc[i] += h[i];
  }
  std::vector<float> m(d);
  for (int i = 0; i < d; ++i) m[i] = static_cast<float>(acc[i] / (T - first));
  return m;
}

std::vector<float> contrastiveVector(Session& s, int layer,
                                     const std::vector<std::vector<int32_t>>& positive,
                                     const std::vector<std::vector<int32_t>>& negative) {
  checkLayer(s, layer);
  if (positive.empty() || negative.empty())
    throw std::invalid_argument("contrastive vector: need positive and negative examples");
  const int d = s.model().spec.nEmbd;
  const int32_t bos = s.model().tokenizer ? s.model().tokenizer->bos() : -1;
  auto meanOf = [&](const std::vector<std::vector<int32_t>>& set) {
    std::vector<double> acc(d, 0.0);
    for (const auto& ids : set) {
      auto m = exampleMean(*runIds(s, ids, {}, true, {}, false), layer, bos);
      for (int i = 0; i < d; ++i) acc[i] += m[i];
    }
    for (double& x : acc) x /= set.size();
    return acc;
  };
  auto p = meanOf(positive), n = meanOf(negative);
  std::vector<float> v(d);
  for (int i = 0; i < d; ++i) v[i] = static_cast<float>(p[i] - n[i]);
  return v;
}

double pushRatio(const Trace& ref, int layer, const std::vector<float>& v, float alpha) {
  if (static_cast<int>(v.size()) != ref.nEmbd)
    throw std::invalid_argument("steering vector size differs from n_embd");
  double nv = 0;
  for (float x : v) nv += double(x) * x;
  double mean = 0;
  for (int t = 0; t < ref.nTokens; ++t) {
    const float* h = residAfter(ref, layer, t);
    double s = 0;
    for (int i = 0; i < ref.nEmbd; ++i) s += double(h[i]) * h[i];
    mean += std::sqrt(s);
  }
  mean /= ref.nTokens;
  return mean > 0 ? std::fabs(alpha) * std::sqrt(nv) / mean : 0.0;
}

SteeringReadout steeringReadout(Session& s, const std::vector<int32_t>& prompt, const Steering& st,
                                int nGenerated) {
  checkLayer(s, st.layer);
  Interventions none, iv;
  iv.steering.push_back(st);
  SteeringReadout r;
  r.nPrompt = static_cast<int>(prompt.size());
  std::vector<int32_t> pos;
  for (size_t i = 0; i < prompt.size(); ++i) pos.push_back(static_cast<int32_t>(i));
  auto gen = greedy(
      s, prompt, pos, [&](int) { return none; }, std::max(0, nGenerated), false);
  r.ids = prompt;
  r.ids.insert(r.ids.end(), gen.begin(), gen.end());
  auto ref = runIds(s, r.ids, none);
  auto ste = runIds(s, r.ids, iv);
  const int L = ref->nLayer, d = ref->nEmbd, T = ref->nTokens;
  r.firstLayer = st.layer;
  r.nLayers = L - st.layer;
  for (int t = std::max(0, st.fromPos); t < T; ++t) r.positions.push_back(t);
  const int P = static_cast<int>(r.positions.size());
  r.diffNorm.resize(size_t(r.nLayers) * P);
  r.cosine.resize(size_t(r.nLayers) * P);
  r.cosineWithVector.resize(size_t(r.nLayers) * P);
  double nv = 0;
  for (float x : st.vector) nv += double(x) * x;
  nv = std::sqrt(nv);
  for (int l = st.layer; l < L; ++l)
    for (int c = 0; c < P; ++c) {
      const float* a = residAfter(*ste, l, r.positions[c]);
      const float* b = residAfter(*ref, l, r.positions[c]);
      double dd = 0, aa = 0, bb = 0, ab = 0, dv = 0;
      for (int i = 0; i < d; ++i) {
        const double diff = double(a[i]) - b[i];
        dd += diff * diff;
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
        ab += double(a[i]) * b[i];
        dv += diff * st.vector[i];
      }
      const size_t at = size_t(l - st.layer) * P + c;
      r.diffNorm[at] = static_cast<float>(std::sqrt(dd));
      r.cosine[at] = aa > 0 && bb > 0 ? static_cast<float>(ab / std::sqrt(aa * bb)) : 0.0f;
      r.cosineWithVector[at] =
          dd > 0 && nv > 0 ? static_cast<float>(dv / (std::sqrt(dd) * nv)) : 0.0f;
    }
  r.pushRatio = pushRatio(*ref, st.layer, st.vector, st.alpha);
  return r;
}

}  // namespace ll::rt::ana
