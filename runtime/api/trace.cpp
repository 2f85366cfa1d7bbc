#include "runtime/api/trace.h"

#include <stdexcept>

namespace ll::rt {

const float* Trace::logitsRow(int t) const {
  if (t < 0 || t >= nTokens) throw std::out_of_range("Trace: token index out of range");
  if (allLogits) return logits.data() + static_cast<size_t>(t) * nVocab;
  if (t != nTokens - 1)
    throw std::invalid_argument("Trace: only the last position's logits were captured");
  return logits.data();
}

namespace {
template <class F>
size_t sumTensors(const Trace& t, F f) {
  size_t n = f(t.logits) + f(t.embd) + f(t.finalNorm);
  for (const LayerTrace& L : t.layers) n += f(L.resid) + f(L.residMid) + f(L.q) + f(L.k);
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
