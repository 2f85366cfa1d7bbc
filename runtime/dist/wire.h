// Byte encoding of what pipeline ranks exchange (runtime/dist): run requests (tokens, positions,
// interventions, capture options, the reuse decision) and captured layers. Both ends run the
// same build on the same architecture (an MPI job), so values are stored in native byte order;
// the reader still checks every length against the bytes left, so a short or corrupt message
// gives a clear error, never a read past the buffer.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/api/request.h"
#include "runtime/api/trace.h"

namespace ll::rt::dist {

class WireWriter {
 public:
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const char* p = reinterpret_cast<const char*>(&v);
    m_bytes.insert(m_bytes.end(), p, p + sizeof(T));
  }
  template <class T>
  void putVec(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    put<uint64_t>(v.size());
    const char* p = reinterpret_cast<const char*>(v.data());
    m_bytes.insert(m_bytes.end(), p, p + v.size() * sizeof(T));
  }
  void putFloats(const float* data, size_t count);
  void putString(const std::string& s);
  std::vector<char>& bytes() { return m_bytes; }

 private:
  std::vector<char> m_bytes;
};

class WireReader {
 public:
  WireReader(const char* data, size_t size) : m_p(data), m_end(data + size) {}
  explicit WireReader(const std::vector<char>& b) : WireReader(b.data(), b.size()) {}
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T));
    T v;
    std::memcpy(&v, m_p, sizeof(T));
    m_p += sizeof(T);
    return v;
  }
  template <class T>
  std::vector<T> getVec() {
    const uint64_t n = get<uint64_t>();
    if (n > size_t(m_end - m_p) / sizeof(T))
      throw std::runtime_error("pipeline message: an array of " + std::to_string(n) +
                               " entries is longer than the message");
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), m_p, n * sizeof(T));
    m_p += n * sizeof(T);
    return v;
  }
  std::string getString();
  bool done() const { return m_p == m_end; }
  size_t left() const { return size_t(m_end - m_p); }

 private:
  void need(size_t n) const {
    if (size_t(m_end - m_p) < n) throw std::runtime_error("pipeline message is truncated");
  }
  const char* m_p;
  const char* m_end;
};

// One stage pass as rank 0 decided it.
struct StageRequest {
  std::vector<int32_t> ids, positions;
  Interventions interventions;
  CaptureOptions capture;
  int reuse = 0;        // leading rows every stage takes from its cache
  bool publish = true;  // Engine::run's publish: false for generation's passes
  // Ranks 0..running-1 run layers (and pass the residual on); an early-exit pass leaves the
  // stages wholly after its stop layer out. Rank 0 decides it from the stage plan.
  int running = 1;
  // Rank 0's number for the pass (per session, from 1): the ranks keep its captures under it
  // until rank 0 releases it (remote_captures.h).
  uint64_t pass = 0;
};

void writeRequest(WireWriter& w, const StageRequest& r);
StageRequest readRequest(WireReader& r);

// A layer's captures (host copies; a device tensor is downloaded).
void writeLayer(WireWriter& w, const LayerTrace& L);
LayerTrace readLayer(WireReader& r);
void writeTensor(WireWriter& w, const TraceTensor<float>& t);
TraceTensor<float> readTensor(WireReader& r);

}  // namespace ll::rt::dist
