// How the residual's floats travel between pipeline ranks once the control message (its header,
// stage_links.h) said they come: through host memory over the Transport (host_channel.h), or
// device buffer to device buffer over NCCL (runtime/dist_nccl). Every rank of a job uses the same
// one (activation_route.h agrees on it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/backend.h"

namespace ll::rt::dist {

// The payload routes; the header names the sender's so a receiver on another route refuses.
enum class ActivationRoute : uint8_t { Mpi = 1, Nccl = 2 };

const char* routeName(ActivationRoute r);

class PayloadChannel {
 public:
  virtual ~PayloadChannel() = default;
  virtual ActivationRoute route() const = 0;
  // Sends n floats at src (b's memory) to rank `to`, after every op enqueued on b; returns once
  // the receiver has them or they are buffered (src may be reused). Throws TransportError naming
  // `to` past timeoutS (<= 0: no deadline).
  virtual void send(kern::Backend& b, int to, const float* src, size_t n, double timeoutS,
                    const std::string& what) = 0;
  // Receives n floats from rank `from` into dst (b's memory), before every op enqueued on b
  // after the call. Throws TransportError naming `from` past timeoutS.
  virtual void recv(kern::Backend& b, int from, float* dst, size_t n, double timeoutS,
                    const std::string& what) = 0;
  // Receives and drops n floats from `from`: a payload its header announced that this rank
  // cannot use (its own pass failed first); the sender is not left waiting.
  virtual void discard(int from, size_t n, double timeoutS, const std::string& what) = 0;
};

}  // namespace ll::rt::dist
