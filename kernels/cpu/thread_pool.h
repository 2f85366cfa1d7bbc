// A small fixed-size thread pool owned by one CPU backend: runs a batch of tasks on its workers
// plus the calling thread and returns when all are done (fork-join, no futures, no queues).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ll::kern {

class ThreadPool {
 public:
  // threads <= 0: hardware concurrency. The pool starts threads - 1 workers; the caller is the
  // last.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return m_size; }

  // Calls fn(task, worker) for every task in [0, nTasks), tasks handed out dynamically; worker is
  // in [0, size()) and identifies per-thread scratch. Blocks until all tasks ran; rethrows the
  // first exception a task threw. Calls from several threads are serialised; fn must not call run.
  void run(int64_t nTasks, const std::function<void(int64_t task, int worker)>& fn);

  // Splits [0, n) into at most size() * 4 contiguous ranges of at least `grain` items and calls
  // fn(begin, end, worker) for each.
  void parallelFor(int64_t n, int64_t grain,
                   const std::function<void(int64_t begin, int64_t end, int worker)>& fn);

 private:
  void workerLoop(int worker);
  void drain(int worker);

  int m_size = 1;
  std::vector<std::thread> m_threads;
  std::mutex m_runMutex;  // one batch at a time
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::condition_variable m_done;
  uint64_t m_generation = 0;
  int m_busy = 0;  // workers still inside the current batch
  bool m_stop = false;
  const std::function<void(int64_t, int)>* m_fn = nullptr;
  int64_t m_nTasks = 0;
  std::atomic<int64_t> m_next{0};
  std::exception_ptr m_error;
};

}  // namespace ll::kern
