// HostPayloadChannel: the residual's floats as one Transport message (see host_channel.h).
#include "runtime/dist/host_channel.h"

#include <cstring>
#include <vector>

#include "runtime/dist/pipeline.h"

namespace ll::rt::dist {

const char* routeName(ActivationRoute r) {
  return r == ActivationRoute::Nccl ? "nccl" : "mpi";
}

void HostPayloadChannel::send(kern::Backend& b, int to, const float* src, size_t n, double timeoutS,
                              const std::string& what) {
  const size_t bytes = n * sizeof(float);
  if (b.hostMemory()) {
    b.sync();  // ops may be asynchronous even in host memory
    m_t.send(to, kTagPayload, src, bytes, timeoutS, what);
    return;
  }
  std::vector<float> staged(n);
  b.download(staged.data(), src, bytes);  // waits for the ops before it
  m_t.send(to, kTagPayload, staged.data(), bytes, timeoutS, what);
}

void HostPayloadChannel::recv(kern::Backend& b, int from, float* dst, size_t n, double timeoutS,
                              const std::string& what) {
  const size_t bytes = n * sizeof(float);
  const std::vector<char> in = m_t.recv(from, kTagPayload, bytes, timeoutS, what);
  if (in.size() != bytes)
    throw TransportError("rank " + std::to_string(from) + " sent " + std::to_string(in.size()) +
                         " bytes for " + what + ", its header announced " + std::to_string(bytes));
  b.upload(dst, in.data(), bytes);
}

void HostPayloadChannel::discard(int from, size_t n, double timeoutS, const std::string& what) {
  m_t.recv(from, kTagPayload, n * sizeof(float), timeoutS, what);
}

}  // namespace ll::rt::dist
