// The activation hop between pipeline ranks r and r + 1, as the engine's ActivationLink: a small
// header over the Transport (the control plane: did the pass get this far, how many rows of what
// width, over which route) and, only when it says ok, the payload over the job's PayloadChannel
// (host memory over MPI, or device buffers over NCCL). A stage that fails sends a failed header,
// so the chain unwinds and rank 0 reports the first error; a receiver whose own pass fails after
// an ok header still takes the payload (drain), so its sender is never left waiting.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/dist/payload_channel.h"
#include "runtime/dist/transport.h"
#include "runtime/engine/activation_link.h"

namespace ll::rt::dist {

struct ActivationHeader {
  bool ok = false;
  ActivationRoute route = ActivationRoute::Mpi;
  uint32_t rows = 0, width = 0;
};

std::vector<char> writeHeader(const ActivationHeader& h);
// Throws std::runtime_error on a malformed header.
ActivationHeader readHeader(const std::vector<char>& bytes);

// Rank r's input from `from` = r - 1. b: the stage's backend (null: no stage, only drain()).
class InboundActivations : public ActivationLink {
 public:
  InboundActivations(Transport& t, PayloadChannel& ch, kern::Backend* b, int from, double timeoutS,
                     std::string what);
  // Receives the header. Throws std::runtime_error when the upstream pass failed, or announces
  // other than rows x width floats (width 0: any width, e.g. for a stage that only drains) or
  // another route; the payload of an ok header is then still owed to drain().
  void expect(uint32_t rows, uint32_t width);
  void recvInto(float* dst, size_t n) override;
  void sendFrom(const float*, size_t) override;  // throws: an input link sends nothing
  // After the pass, however it ended: takes and drops the payload an ok header announced and the
  // pass did not receive.
  void drain();

 private:
  Transport& m_t;
  PayloadChannel& m_ch;
  kern::Backend* m_b;
  int m_from;
  double m_timeoutS;
  std::string m_what;
  size_t m_owed = 0;  // floats announced and not yet received
};

// Rank r's output to `to` = r + 1, which expects it (`expected`) unless an early exit leaves it
// out. b: the stage's backend (null: no stage, only finish()).
class OutboundActivations : public ActivationLink {
 public:
  OutboundActivations(Transport& t, PayloadChannel& ch, kern::Backend* b, int to, bool expected,
                      uint32_t width, double timeoutS, std::string what);
  void recvInto(float*, size_t) override;  // throws: an output link receives nothing
  // The ok header, then the payload.
  void sendFrom(const float* src, size_t n) override;
  // After the pass: when the next rank expects a residual that was not sent (this pass failed
  // first), the failed header.
  void finish();

 private:
  Transport& m_t;
  PayloadChannel& m_ch;
  kern::Backend* m_b;
  int m_to;
  bool m_expected;
  uint32_t m_width;
  double m_timeoutS;
  std::string m_what;
  bool m_headerSent = false;
};

}  // namespace ll::rt::dist
