#include "runtime/api/trace.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ll::rt {

const float* Trace::logitsRow(int t) const {
  if (t < 0 || t >= nTokens) throw std::out_of_range("Trace: token index out of range");
  if (allLogits) return logits.data() + static_cast<size_t>(t) * nVocab;
  if (t != nTokens - 1)
    throw std::invalid_argument("Trace: only the last position's logits were captured");
  return logits.data();
}

std::vector<float> Trace::queries(int layer, int r0, int r1) const {
  if (!captured) throw std::invalid_argument("Trace: queries of a trace run without capture");
  if (layer < 0 || layer >= nLayer || layer >= static_cast<int>(layers.size()))
    throw std::out_of_range("Trace: layer " + std::to_string(layer) + " is out of range");
  if (r0 < 0 || r1 > nTokens || r0 > r1) throw std::out_of_range("Trace: query rows out of range");
  const size_t qd = size_t(nHead) * headDim;
  std::vector<float> out(size_t(r1 - r0) * qd, 0.0f);
  const int last = request.capture.lastLayer;
  if (r0 == r1 || (last >= 0 && layer > last)) return out;
  const TraceTensor<float>& tail = layers[layer].qTail;
  if (tail.size() != size_t(nTokens - qFrom) * qd)
    throw std::invalid_argument("Trace: stored queries do not match the trace's shape");
  const int split = std::clamp(qFrom, r0, r1);
  if (split > r0) {
    if (!recompute) throw std::logic_error("Trace: queries before row qFrom cannot be recomputed");
    recompute->queries(*this, layer, r0, split, out.data());
  }
  if (r1 > split)
    std::memcpy(out.data() + size_t(split - r0) * qd, tail.data() + size_t(split - qFrom) * qd,
                size_t(r1 - split) * qd * sizeof(float));
  return out;
}

std::vector<float> Trace::finalNormRows(int r0, int r1) const {
  if (!captured) throw std::invalid_argument("Trace: final norm of a trace run without capture");
  if (r0 < 0 || r1 > nTokens || r0 > r1) throw std::out_of_range("Trace: rows out of range");
  const size_t d = size_t(nEmbd);
  std::vector<float> out(size_t(r1 - r0) * d, 0.0f);
  const int last = request.capture.lastLayer;
  if (r0 == r1 || (last >= 0 && last < nLayer - 1)) return out;
  if (finalNorm.size() == size_t(nTokens) * d) {
    std::memcpy(out.data(), finalNorm.data() + size_t(r0) * d, out.size() * sizeof(float));
    return out;
  }
  if (!recompute)
    throw std::logic_error("Trace: the final norm was neither stored nor recomputable");
  recompute->finalNorm(*this, r0, r1, out.data());
  return out;
}

namespace {
template <class F>
size_t sumTensors(const Trace& t, F f) {
  size_t n = 0;
  t.forEachTensor([&](const TraceTensor<float>& v) { n += f(v); });
  return n;
}
}  // namespace

size_t Trace::bytes() const {
  auto b = [](const auto& v) { return v.size() * sizeof(float); };
  size_t n = sumTensors(*this, [](const TraceTensor<float>& v) { return v.bytes(); });
  for (const LayerTrace& L : layers)
    n += b(L.entropy) + b(L.lastRow) + b(L.colSum) + b(L.routerLogits) + b(L.routerProbs) +
         b(L.experts) + b(L.expertWeights);
  return n;
}

size_t Trace::deviceBytes() const {
  return sumTensors(*this,
                    [](const TraceTensor<float>& v) { return v.onDevice() ? v.bytes() : 0; });
}

}  // namespace ll::rt
