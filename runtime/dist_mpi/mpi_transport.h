// The pipeline's Transport over Open MPI (MPI_COMM_WORLD): point-to-point byte messages. MPI has
// no receive or send timeout, so every wait polls (MPI_Iprobe / MPI_Test) against a deadline and
// sleeps briefly between polls (ranks oversubscribed on few cores must not spin on a core that a
// computing rank needs).
#pragma once

#include <string>

#include "runtime/dist/transport.h"

namespace ll::rt::dist {

class MpiTransport : public Transport {
 public:
  // Initialises MPI (once per process); finalises it in the destructor.
  MpiTransport(int* argc, char*** argv);
  ~MpiTransport() override;
  int rank() const override { return m_rank; }
  int size() const override { return m_size; }
  void send(int to, int tag, const void* data, size_t bytes, double timeoutS,
            const std::string& what) override;
  std::vector<char> recv(int from, int tag, size_t maxBytes, double timeoutS,
                         const std::string& what) override;
  bool poll(int from, int tag) override;
  [[noreturn]] void abort(const std::string& why) override;

 private:
  int m_rank = 0, m_size = 1;
};

}  // namespace ll::rt::dist
