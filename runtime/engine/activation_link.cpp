// HostActivations: a stage's residual through host arrays (see activation_link.h).
#include "runtime/engine/activation_link.h"

#include <stdexcept>

namespace ll::rt {

void HostActivations::recvInto(float* dst, size_t n) {
  if (!m_in) throw std::logic_error("pipeline stage: no input residual given");
  m_b.upload(dst, m_in, n * sizeof(float));
}

void HostActivations::sendFrom(const float* src, size_t n) {
  if (!m_out) throw std::logic_error("pipeline stage: nowhere to put the output residual");
  m_out->resize(n);
  m_b.download(m_out->data(), src, n * sizeof(float));
}

}  // namespace ll::rt
