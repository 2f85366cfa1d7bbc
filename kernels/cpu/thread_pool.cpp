#include "kernels/cpu/thread_pool.h"

#include <algorithm>

namespace ll::kern {

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  m_size = std::min(threads, 256);
  for (int w = 1; w < m_size; ++w) m_threads.emplace_back([this, w] { workerLoop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  for (auto& t : m_threads) t.join();
}

void ThreadPool::drain(int worker) {
  for (;;) {
    const int64_t t = m_next.fetch_add(1, std::memory_order_relaxed);
    if (t >= m_nTasks) return;
    try {
      (*m_fn)(t, worker);
    } catch (...) {
      std::lock_guard lock(m_mutex);
      if (!m_error) m_error = std::current_exception();
      m_next.store(m_nTasks, std::memory_order_relaxed);  // skip the remaining tasks
    }
  }
}

void ThreadPool::workerLoop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(m_mutex);
      m_wake.wait(lock, [&] { return m_stop || m_generation != seen; });
      if (m_stop) return;
      seen = m_generation;
    }
    drain(worker);
    {
      std::lock_guard lock(m_mutex);
      if (--m_busy == 0) m_done.notify_one();
    }
  }
}

void ThreadPool::run(int64_t nTasks, const std::function<void(int64_t, int)>& fn) {
  if (nTasks <= 0) return;
  std::lock_guard runLock(m_runMutex);
  if (nTasks == 1 || m_size == 1) {
    for (int64_t t = 0; t < nTasks; ++t) fn(t, 0);
    return;
  }
  {
    std::lock_guard lock(m_mutex);
    m_fn = &fn;
    m_nTasks = nTasks;
    m_next.store(0, std::memory_order_relaxed);
    m_error = nullptr;
    m_busy = m_size - 1;
    ++m_generation;
  }
  m_wake.notify_all();
  drain(0);
  std::exception_ptr err;
  {
    std::unique_lock lock(m_mutex);
    m_done.wait(lock, [&] { return m_busy == 0; });
    m_fn = nullptr;
    err = m_error;
    m_error = nullptr;
  }
  if (err) std::rethrow_exception(err);
}

void ThreadPool::parallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t maxChunks = std::max<int64_t>(1, std::min<int64_t>(int64_t(m_size) * 4, n / grain));
  const int64_t chunk = (n + maxChunks - 1) / maxChunks;
  const int64_t nChunks = (n + chunk - 1) / chunk;
  run(nChunks, [&](int64_t c, int worker) {
    const int64_t b = c * chunk;
    fn(b, std::min(n, b + chunk), worker);
  });
}

}  // namespace ll::kern
