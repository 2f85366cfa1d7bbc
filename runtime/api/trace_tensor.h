// TraceTensor: the storage of one captured Trace array. Either plain host memory, or a host copy
// filled lazily, once, on the first host access from a LazySource: a buffer in a backend's memory
// (a GPU's), so a GPU pass keeps its captures on the device instead of downloading every layer, or
// another pipeline rank's captures (runtime/dist), fetched only when something reads them.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "runtime/api/lazy_source.h"

namespace ll::rt {

// A block of backend memory holding one tensor. `owner` keeps the backend alive as long as any
// trace refers to the block (a trace may outlive the Session that made it); the buffer is
// declared after it so it is freed first.
struct DeviceBlock : LazySource {
  DeviceBlock(std::shared_ptr<kern::Backend> keepAlive, kern::Backend& b, size_t bytes)
      : owner(std::move(keepAlive)), backend(&b), buffer(b, bytes) {}
  void fill(void* dst, size_t bytes) const override { backend->download(dst, buffer.get(), bytes); }
  std::shared_ptr<kern::Backend> owner;
  kern::Backend* backend;
  kern::Buffer buffer;
};

// Read it like a const std::vector<T> (data(), size(), empty(), operator[], begin()/end(), or
// host()/the conversion to const std::vector<T>&). Reads are thread-safe: the first host access
// of a lazily sourced tensor fills the host copy under a lock (kern::Backend::download must then be
// safe to call while another thread uses the backend; a remote source takes its pipeline's lock),
// and copies share that host copy. A source that fails throws to the reader. The engine writes
// through hostData() or deviceData() before the trace is published; a published trace is never
// written again.
template <class T>
class TraceTensor {
 public:
  TraceTensor() = default;
  TraceTensor(std::vector<T> host) : m_host(std::move(host)), m_count(m_host.size()) {}  // NOLINT
  TraceTensor(std::initializer_list<T> values) : TraceTensor(std::vector<T>(values)) {}
  TraceTensor(const TraceTensor& o) { *this = o; }
  TraceTensor(TraceTensor&& o) noexcept { *this = std::move(o); }
  // Copies share the source and its host copy (immutable once published).
  TraceTensor& operator=(const TraceTensor& o) {
    if (this == &o) return *this;
    m_count = o.m_count;
    m_dev = o.m_dev;
    m_lazy = o.m_lazy;
    m_host = o.m_host;
    return *this;
  }
  TraceTensor& operator=(TraceTensor&& o) noexcept {
    if (this == &o) return *this;
    m_host = std::move(o.m_host);
    m_dev = std::move(o.m_dev);
    m_lazy = std::move(o.m_lazy);
    m_count = o.m_count;
    o.m_count = 0;
    o.m_host.clear();
    return *this;
  }

  // --- reading (any thread) ---------------------------------------------------------------------
  size_t size() const { return m_count; }
  bool empty() const { return m_count == 0; }
  const T* data() const { return host().data(); }
  const T& operator[](size_t i) const { return host()[i]; }
  typename std::vector<T>::const_iterator begin() const { return host().begin(); }
  typename std::vector<T>::const_iterator end() const { return host().end(); }
  // The host copy (filled from the source on first use when the tensor is not host storage).
  const std::vector<T>& host() const {
    if (!m_lazy) return m_host;
    Lazy& z = *m_lazy;
    if (!z.ready.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(z.mutex);
      if (!z.ready.load(std::memory_order_relaxed)) {
        std::vector<T> filled(m_count);
        if (m_count) z.source->fill(filled.data(), bytes());  // may throw: nothing is kept
        z.host = std::move(filled);
        z.ready.store(true, std::memory_order_release);
      }
    }
    return z.host;
  }
  operator const std::vector<T>&() const { return host(); }  // NOLINT: reads like the vector it was
  friend bool operator==(const TraceTensor& a, const TraceTensor& b) {
    return a.host() == b.host();
  }
  friend bool operator==(const TraceTensor& a, const std::vector<T>& b) { return a.host() == b; }

  // Backend-resident data, or nullptr when the tensor is host storage or lives on another backend.
  const T* deviceDataOn(const kern::Backend& b) const {
    return m_dev && m_dev->backend == &b ? static_cast<const T*>(m_dev->buffer.get()) : nullptr;
  }
  bool onDevice() const { return m_dev != nullptr; }
  // Whether the host copy exists (always for host storage; after the first read otherwise).
  bool hostReady() const { return !m_lazy || m_lazy->ready.load(std::memory_order_acquire); }
  size_t bytes() const { return m_count * sizeof(T); }

  // --- writing (the engine, before the trace is published) ---------------------------------------
  // Host storage of `count` zeros.
  void assignHost(size_t count, T value = T()) {
    m_dev.reset();
    m_lazy.reset();
    m_host.assign(count, value);
    m_count = count;
  }
  // Host storage taken over from `storage`, whose size is the element count and whose contents
  // are kept (the engine's capture pool hands out a dead trace's buffers this way).
  void adoptHost(std::vector<T>&& storage) {
    m_dev.reset();
    m_lazy.reset();
    m_host = std::move(storage);
    m_count = m_host.size();
  }
  // Gives up plain host storage, leaving the tensor empty; empty for a tensor in backend memory
  // or filled lazily (their host copy may be shared).
  std::vector<T> releaseHost() {
    if (m_dev || m_lazy) return {};
    std::vector<T> out = std::move(m_host);
    m_host.clear();
    m_count = 0;
    return out;
  }
  // Backend storage of `count` elements (contents undefined until written).
  void assignDevice(kern::Backend& b, std::shared_ptr<kern::Backend> keepAlive, size_t count) {
    m_host.clear();
    m_host.shrink_to_fit();
    m_dev = std::make_shared<DeviceBlock>(std::move(keepAlive), b,
                                          std::max<size_t>(count, 1) * sizeof(T));
    m_lazy = std::make_shared<Lazy>(deviceSource());
    m_count = count;
  }
  // `count` elements that `source` provides on the first host read (a pipeline's remote fetch).
  void assignLazy(std::shared_ptr<const LazySource> source, size_t count) {
    m_host.clear();
    m_host.shrink_to_fit();
    m_dev.reset();
    m_lazy = std::make_shared<Lazy>(std::move(source));
    m_count = count;
  }
  // Changes the element count keeping the leading min(old, new) elements. Backend storage grows
  // by reallocation with a device-side copy; shrinking keeps the allocation. Drops the host copy
  // of a device-resident tensor (it is stale once the engine writes).
  void resize(size_t count) {
    if (!m_dev) {
      if (m_lazy) throw std::logic_error("TraceTensor: resize of a lazily fetched tensor");
      m_host.resize(count);
      m_count = count;
      return;
    }
    if (count * sizeof(T) > m_dev->buffer.bytes()) {
      auto grown = std::make_shared<DeviceBlock>(m_dev->owner, *m_dev->backend, count * sizeof(T));
      if (m_count) m_dev->backend->copy(grown->buffer.get(), m_dev->buffer.get(), bytes());
      m_dev = std::move(grown);
    }
    m_count = count;
    m_lazy = std::make_shared<Lazy>(deviceSource());
  }
  T* hostData() {
    if (m_lazy) throw std::logic_error("TraceTensor: host write to a lazily filled tensor");
    return m_host.data();
  }
  T* deviceData() { return m_dev ? static_cast<T*>(m_dev->buffer.get()) : nullptr; }
  // True when no other TraceTensor shares this one's backend block (safe to write in place).
  bool exclusive() const { return !m_dev || m_dev.use_count() == 1; }

 private:
  // The device block as the lazy source, without owning it: every tensor sharing the Lazy holds
  // m_dev too, and exclusive() counts the tensors that own the block.
  std::shared_ptr<const LazySource> deviceSource() const {
    return std::shared_ptr<const LazySource>(std::shared_ptr<void>(), m_dev.get());
  }
  // The lazily filled host copy, shared by copies of the tensor.
  struct Lazy {
    explicit Lazy(std::shared_ptr<const LazySource> s) : source(std::move(s)) {}
    std::shared_ptr<const LazySource> source;
    std::mutex mutex;
    std::atomic<bool> ready{false};
    std::vector<T> host;
  };
  std::vector<T> m_host;  // host storage
  std::shared_ptr<DeviceBlock> m_dev;
  std::shared_ptr<Lazy> m_lazy;  // with m_dev or a remote source
  size_t m_count = 0;
};

// The tensor as a pointer that ops of backend b can read: its own buffer when it lives there, the
// host array on a host-memory backend, else a copy uploaded into `staging`.
template <class T>
const T* backendView(kern::Backend& b, const TraceTensor<T>& t, kern::Buffer& staging) {
  if (const T* dev = t.deviceDataOn(b)) return dev;
  if (b.hostMemory()) return t.data();
  staging = kern::Buffer(b, std::max<size_t>(t.bytes(), 1));
  if (t.bytes()) b.upload(staging.get(), t.data(), t.bytes());
  return static_cast<const T*>(staging.get());
}

}  // namespace ll::rt
