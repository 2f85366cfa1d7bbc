// Rank 0's side of captures kept on other ranks: the field table and a kept pass's fetch through
// its driver (see remote_captures.h).
#include "runtime/dist/remote_captures.h"

#include <stdexcept>
#include <string>

#include "runtime/dist/pipeline.h"

namespace ll::rt::dist {

TraceTensor<float>& captureOf(LayerTrace& L, CaptureField f) {
  switch (f) {
    case CaptureField::Resid:
      return L.resid;
    case CaptureField::ResidMid:
      return L.residMid;
    case CaptureField::QTail:
      return L.qTail;
    case CaptureField::K:
      return L.k;
    case CaptureField::AttnOut:
      return L.attnOut;
    case CaptureField::MlpOut:
      return L.mlpOut;
    case CaptureField::HeadOut:
      return L.headOut;
    default:
      break;
  }
  throw std::invalid_argument("capture field " + std::to_string(int(f)) + " is not a layer's");
}

const TraceTensor<float>& captureOf(const LayerTrace& L, CaptureField f) {
  return captureOf(const_cast<LayerTrace&>(L), f);  // the same table; nothing is written
}

const TraceTensor<float>& captureOf(const Trace& tr, int layer, CaptureField f) {
  if (f == CaptureField::Logits) return tr.logits;
  if (f == CaptureField::FinalNorm) return tr.finalNorm;
  return captureOf(tr.layers.at(size_t(layer)), f);
}

void KeptPass::fetch(int rank, int layer, CaptureField f, float* dst, size_t count) const {
  const auto closed = [&] {
    return std::runtime_error("pass " + std::to_string(m_pass) +
                              ": its session's pipeline was closed; run it again");
  };
  std::shared_ptr<FetchLink> link = m_link.lock();
  if (!link) throw closed();
  const auto once = [&] {
    std::lock_guard<std::mutex> lock(link->mutex);
    if (!link->driver) throw closed();
    link->driver->fetchTensor(m_pass, rank, layer, f, dst, count);
  };
  if (link->guard)
    link->guard(once);
  else
    once();
}

}  // namespace ll::rt::dist
