// CapturePool: reuse of dead traces' host capture buffers (see capture_pool.h).
#include "runtime/engine/capture_pool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "runtime/api/trace.h"

namespace ll::rt {

std::vector<float> CapturePool::take(size_t count, bool zero) {
  std::vector<float> v;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    // The smallest buffer that fits and wastes at most a quarter.
    auto best = m_free.end();
    for (auto it = m_free.begin(); it != m_free.end(); ++it)
      if (it->capacity() >= count && it->capacity() <= count + count / 4 &&
          (best == m_free.end() || it->capacity() < best->capacity()))
        best = it;
    if (best != m_free.end()) {
      v = std::move(*best);
      m_free.erase(best);
      m_stats.heldBytes -= v.capacity() * sizeof(float);
      m_stats.reusedBytes += v.capacity() * sizeof(float);
    }
  }
  if (v.capacity()) {
    v.resize(count);  // zeroes only elements past the dead trace's size
    if (zero || m_poison)
      std::fill(v.begin(), v.end(), zero ? 0.0f : std::numeric_limits<float>::quiet_NaN());
    return v;
  }
  // Untouched spare pages are not resident: the slack costs address space, not memory.
  v.reserve(count + count / 16);
  v.resize(count);
  std::lock_guard<std::mutex> lock(m_mutex);
  m_stats.freshBytes += v.capacity() * sizeof(float);
  return v;
}

void CapturePool::give(std::vector<float>&& v) noexcept {
  const size_t bytes = v.capacity() * sizeof(float);
  if (!bytes) return;
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_stats.heldBytes + bytes > m_capBytes) return;  // v frees its buffer
  try {
    m_free.push_back(std::move(v));
    m_stats.heldBytes += bytes;
  } catch (...) {  // no room to record it: it is freed instead
  }
}

void CapturePool::endTakes(size_t capBytes) {
  std::vector<std::vector<float>> unused;
  std::lock_guard<std::mutex> lock(m_mutex);
  unused.swap(m_free);  // freed as the function returns
  m_stats.heldBytes = 0;
  m_capBytes = std::min(capBytes, kMaxBytes);
}

void CapturePool::reclaim(Trace& t, CapturePool& pool) noexcept {
  t.forEachTensor([&](TraceTensor<float>& x) { pool.give(x.releaseHost()); });
}

bool CapturePool::poisonRequested() {
  const char* v = std::getenv("LAYERLENS_CAPTURE_POOL_POISON");
  return v && std::strcmp(v, "1") == 0;
}

CapturePool::Stats CapturePool::stats() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_stats;
}

std::shared_ptr<Trace> makePooledTrace(const std::shared_ptr<CapturePool>& pool) {
  std::weak_ptr<CapturePool> weak = pool;
  return std::shared_ptr<Trace>(new Trace, [weak](Trace* t) {
    if (auto p = weak.lock()) CapturePool::reclaim(*t, *p);
    delete t;
  });
}

}  // namespace ll::rt
