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

}  // namespace ll::rt
