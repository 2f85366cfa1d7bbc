// The residual's payload through host memory over the Transport (MPI): a backend whose memory is
// the host's sends and receives its own buffer; a device backend downloads and uploads it (two
// PCIe copies per hop, the price NCCL's route avoids).
#pragma once

#include "runtime/dist/payload_channel.h"
#include "runtime/dist/transport.h"

namespace ll::rt::dist {

class HostPayloadChannel : public PayloadChannel {
 public:
  explicit HostPayloadChannel(Transport& t) : m_t(t) {}
  ActivationRoute route() const override { return ActivationRoute::Mpi; }
  void send(kern::Backend& b, int to, const float* src, size_t n, double timeoutS,
            const std::string& what) override;
  void recv(kern::Backend& b, int from, float* dst, size_t n, double timeoutS,
            const std::string& what) override;
  void discard(int from, size_t n, double timeoutS, const std::string& what) override;

 private:
  Transport& m_t;
};

}  // namespace ll::rt::dist
