// The activation hop's header protocol (see stage_links.h).
#include "runtime/dist/stage_links.h"

#include <stdexcept>

#include "runtime/dist/pipeline.h"
#include "runtime/dist/pipeline_commands.h"
#include "runtime/dist/wire.h"

namespace ll::rt::dist {

namespace {

constexpr size_t kMaxHeader = 64;

}  // namespace

std::vector<char> writeHeader(const ActivationHeader& h) {
  WireWriter w;
  w.put<uint8_t>(h.ok ? 1 : 0);
  w.put<uint8_t>(static_cast<uint8_t>(h.route));
  w.put<uint32_t>(h.rows);
  w.put<uint32_t>(h.width);
  return std::move(w.bytes());
}

ActivationHeader readHeader(const std::vector<char>& bytes) {
  WireReader r(bytes);
  ActivationHeader h;
  const uint8_t ok = r.get<uint8_t>();
  const uint8_t route = r.get<uint8_t>();
  h.rows = r.get<uint32_t>();
  h.width = r.get<uint32_t>();
  if (ok > 1 || (route != uint8_t(ActivationRoute::Mpi) && route != uint8_t(ActivationRoute::Nccl)))
    throw std::runtime_error("malformed activation header");
  if (!r.done()) throw std::runtime_error("activation header: trailing bytes");
  h.ok = ok != 0;
  h.route = static_cast<ActivationRoute>(route);
  return h;
}

InboundActivations::InboundActivations(Transport& t, PayloadChannel& ch, kern::Backend* b, int from,
                                       double timeoutS, std::string what)
    : m_t(t), m_ch(ch), m_b(b), m_from(from), m_timeoutS(timeoutS), m_what(std::move(what)) {}

void InboundActivations::expect(uint32_t rows, uint32_t width) {
  const std::string prev = "rank " + std::to_string(m_from);
  const ActivationHeader h =
      readHeader(m_t.recv(m_from, kTagActivations, kMaxHeader, m_timeoutS, m_what));
  if (!h.ok) throw std::runtime_error(prev + " failed before its output");
  if (h.route != m_ch.route())
    throw std::runtime_error(prev + " sends its residual over " + routeName(h.route) +
                             ", this rank receives over " + routeName(m_ch.route()));
  const size_t n = size_t(h.rows) * h.width;
  if (n > detail::kMaxData / sizeof(float))
    throw std::runtime_error(prev + " announced " + std::to_string(h.rows) + " x " +
                             std::to_string(h.width) + " floats of residual, more than a message");
  m_owed = n;  // from here on the payload comes, whatever this rank makes of it
  if (h.rows != rows || (width && h.width != width))
    throw std::runtime_error(prev + " announced " + std::to_string(h.rows) + " x " +
                             std::to_string(h.width) + " floats of residual, expected " +
                             std::to_string(rows) + " x " + std::to_string(width));
}

void InboundActivations::recvInto(float* dst, size_t n) {
  if (!m_b) throw std::logic_error("pipeline: an input residual without a stage to take it");
  if (n != m_owed)
    throw std::logic_error("pipeline stage: asked for " + std::to_string(n) +
                           " floats of residual, " + std::to_string(m_owed) + " announced");
  m_owed = 0;  // received or failed: a channel that threw is not asked again
  m_ch.recv(*m_b, m_from, dst, n, m_timeoutS, m_what);
}

void InboundActivations::sendFrom(const float*, size_t) {
  throw std::logic_error("pipeline stage: the input link sends nothing");
}

void InboundActivations::drain() {
  if (!m_owed) return;
  const size_t n = m_owed;
  m_owed = 0;
  m_ch.discard(m_from, n, m_timeoutS, m_what);
}

OutboundActivations::OutboundActivations(Transport& t, PayloadChannel& ch, kern::Backend* b, int to,
                                         bool expected, uint32_t width, double timeoutS,
                                         std::string what)
    : m_t(t),
      m_ch(ch),
      m_b(b),
      m_to(to),
      m_expected(expected),
      m_width(width),
      m_timeoutS(timeoutS),
      m_what(std::move(what)) {}

void OutboundActivations::recvInto(float*, size_t) {
  throw std::logic_error("pipeline stage: the output link receives nothing");
}

void OutboundActivations::sendFrom(const float* src, size_t n) {
  if (!m_expected)
    throw std::logic_error("pipeline stage: rank " + std::to_string(m_to) +
                           " expects no residual from this pass");
  if (m_headerSent) throw std::logic_error("pipeline stage: the residual was already sent");
  if (!m_b) throw std::logic_error("pipeline: an output residual without a stage to send it");
  if (!m_width || n % m_width || n / m_width > UINT32_MAX)
    throw std::logic_error("pipeline stage: " + std::to_string(n) +
                           " floats are not whole rows of " + std::to_string(m_width));
  ActivationHeader h;
  h.ok = true;
  h.route = m_ch.route();
  h.rows = uint32_t(n / m_width);
  h.width = m_width;
  const std::vector<char> b = writeHeader(h);
  m_headerSent = true;
  m_t.send(m_to, kTagActivations, b.data(), b.size(), m_timeoutS, m_what);
  m_ch.send(*m_b, m_to, src, n, m_timeoutS, m_what);
}

void OutboundActivations::finish() {
  if (!m_expected || m_headerSent) return;
  m_headerSent = true;
  const std::vector<char> b = writeHeader({});
  m_t.send(m_to, kTagActivations, b.data(), b.size(), m_timeoutS, m_what);
}

}  // namespace ll::rt::dist
