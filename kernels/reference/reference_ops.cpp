#include "kernels/reference/reference_ops.h"

#include "kernels/rope_freq.h"

#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <vector>

namespace ll::kern::ref {

void rope(float* x, const int32_t* positions, int n, int nHead, int headDim, const RopeParams& p) {
  if (p.nRot <= 0 || p.nRot > headDim || p.nRot % 2 != 0)
    throw std::invalid_argument("rope: nRot must be even and in (0, headDim]");
  const int half = p.nRot / 2;
  const double mag = ropeMagnitude(p);
  for (int r = 0; r < n; ++r) {
    for (int h = 0; h < nHead; ++h) {
      float* v = x + (size_t(r) * nHead + h) * headDim;
      for (int i = 0; i < half; ++i) {
        const double theta = double(positions[r]) * ropeInvFreq(i, p);
        const double c = std::cos(theta) * mag, s = std::sin(theta) * mag;
        const int i0 = p.neox ? i : 2 * i;
        const int i1 = p.neox ? i + half : 2 * i + 1;
        const double x0 = v[i0], x1 = v[i1];
        v[i0] = float(x0 * c - x1 * s);
        v[i1] = float(x0 * s + x1 * c);
      }
    }
  }
}

void checkAttnArgs(const AttnArgs& a) {
  if (a.nQ <= 0 || a.nKv <= 0 || a.nHead <= 0 || a.nHeadKv <= 0 || a.headDim <= 0)
    throw std::invalid_argument("attention: non-positive size");
  if (a.nQ > a.nKv) throw std::invalid_argument("attention: nQ > nKv");
  if (a.nHead % a.nHeadKv != 0) throw std::invalid_argument("attention: nHead % nHeadKv != 0");
  if (!a.q || !a.k || !a.v) throw std::invalid_argument("attention: missing q, k or v");
  if (a.headKeep && a.headKeepLen < 0) throw std::invalid_argument("attention: headKeepLen < 0");
  if (a.window < 0) throw std::invalid_argument("attention: window < 0");
  if (!(a.softcap >= 0.0f) || !std::isfinite(a.softcap))
    throw std::invalid_argument("attention: softcap must be finite and >= 0");
  if (a.sinks)
    for (int h = 0; h < a.nHead; ++h)
      if (std::isnan(a.sinks[h]) || a.sinks[h] == std::numeric_limits<float>::infinity())
        throw std::invalid_argument("attention: sink logit NaN or +inf");
}

void attnRowProbs(const AttnArgs& a, int h, int i, double* probs, double* sinkProb) {
  const AttnMask mask = a.mask();
  const int kvh = h / (a.nHead / a.nHeadKv);
  const int qi = a.nKv - a.nQ + i;
  const float* q = a.q + (size_t(i) * a.nHead + h) * a.headDim;
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  double maxS = kNegInf;
  for (int j = 0; j < a.nKv; ++j) {
    if (!attnVisible(mask, qi, j, kvh)) {
      probs[j] = kNegInf;
      continue;
    }
    const float* k = a.k + (size_t(j) * a.nHeadKv + kvh) * a.headDim;
    double s = 0;
    for (int d = 0; d < a.headDim; ++d) s += double(q[d]) * double(k[d]);
    probs[j] = attnLogit(mask, s, double(a.scale));
    maxS = std::max(maxS, probs[j]);
  }
  // The sink (gpt-oss) joins the denominator with the same max shift and takes no value.
  const double sink = attnSinkLogit(a.sinks, h);
  const double m = std::max(maxS, sink);
  const double eSink = sink == kNegInf ? 0.0 : std::exp(sink - m);
  double sum = 0;
  for (int j = 0; j < a.nKv; ++j) {
    probs[j] = std::isinf(probs[j]) ? 0.0 : std::exp(probs[j] - m);
    sum += probs[j];
  }
  sum += eSink;
  for (int j = 0; j < a.nKv; ++j) probs[j] /= sum;
  if (sinkProb) *sinkProb = eSink / sum;
}

void attention(const AttnArgs& a) {
  checkAttnArgs(a);
  const int kvGroup = a.nHead / a.nHeadKv;
  std::vector<double> p(a.nKv), o(a.headDim);
  for (int h = 0; h < a.nHead; ++h) {
    const int kvh = h / kvGroup;
    for (int i = 0; i < a.nQ; ++i) {
      double pSink = 0;
      attnRowProbs(a, h, i, p.data(), &pSink);
      std::fill(o.begin(), o.end(), 0.0);
      double ent = pSink > 0.0 ? -pSink * std::log(pSink) : 0.0;  // the sink is an outcome
      for (int j = 0; j < a.nKv; ++j) {
        if (p[j] == 0.0) continue;
        ent -= p[j] * std::log(p[j]);
        const float* v = a.v + (size_t(j) * a.nHeadKv + kvh) * a.headDim;
        for (int d = 0; d < a.headDim; ++d) o[d] += p[j] * double(v[d]);
      }
      if (a.out) {
        float* out = a.out + (size_t(i) * a.nHead + h) * a.headDim;
        for (int d = 0; d < a.headDim; ++d) out[d] = float(o[d]);
      }
      if (a.entropy) a.entropy[size_t(h) * a.nQ + i] = float(ent);
      if (a.colSum)
        for (int j = 0; j < a.nKv; ++j) a.colSum[size_t(h) * a.nKv + j] += float(p[j]);
      if (a.lastRow && i == a.nQ - 1)
        for (int j = 0; j < a.nKv; ++j) a.lastRow[size_t(h) * a.nKv + j] = float(p[j]);
    }
  }
}

void attentionMap(const AttnArgs& a, int head, float* out) {
  checkAttnArgs(a);
  if (head < 0 || head >= a.nHead) throw std::invalid_argument("attentionMap: head out of range");
  std::vector<double> p(a.nKv);
  for (int i = 0; i < a.nQ; ++i) {
    attnRowProbs(a, head, i, p.data());
    for (int j = 0; j < a.nKv; ++j) out[size_t(i) * a.nKv + j] = float(p[j]);
  }
}

}  // namespace ll::kern::ref
