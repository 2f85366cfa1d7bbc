// The message layer between pipeline ranks: point-to-point byte messages with a deadline. The MPI
// implementation is mpi_transport.h (built when Open MPI is found). The residual's floats may take
// another route (payload_channel.h: NCCL between GPU stages); its control messages stay here.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace ll::rt::dist {

// A peer sent nothing before the deadline, sent more than allowed, or the transport failed.
struct TransportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Sends `bytes` to rank `to`; throws TransportError when the receiver has not taken the message
  // within timeoutS seconds (<= 0: no deadline). `what` names the message in errors.
  virtual void send(int to, int tag, const void* data, size_t bytes, double timeoutS,
                    const std::string& what) = 0;
  // Receives the next message with `tag` from rank `from`; throws TransportError when none
  // arrives within timeoutS seconds (<= 0: no deadline) or it is longer than maxBytes.
  virtual std::vector<char> recv(int from, int tag, size_t maxBytes, double timeoutS,
                                 const std::string& what) = 0;
  // Whether a message with `tag` from rank `from` is waiting to be received; never blocks (the
  // pipeline's between-layer check for a cancel, rank 0's watch over a running pass).
  virtual bool poll(int from, int tag) = 0;
  // Ends every rank of the job after printing `why` (a rank that cannot go on must not leave the
  // others waiting).
  [[noreturn]] virtual void abort(const std::string& why) = 0;
};

}  // namespace ll::rt::dist
