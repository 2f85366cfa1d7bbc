// The CPU backend's thread pool: every task runs exactly once, worker ids stay in range,
// exceptions reach the caller and leave the pool usable, concurrent callers are serialised.
#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kernels/cpu/thread_pool.h"
#include "lltest.h"

using ll::kern::ThreadPool;

LL_TEST(everyTaskOnce) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    QCOMPARE(pool.size(), threads);
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(3), int64_t(1000)}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<bool> badWorker{false};
      pool.run(n, [&](int64_t t, int w) {
        hits[size_t(t)]++;
        if (w < 0 || w >= threads) badWorker = true;
      });
      for (auto& h : hits) QCOMPARE(h.load(), 1);
      QVERIFY(!badWorker);
    }
  }
}

LL_TEST(parallelForCoversRangeOnce) {
  ThreadPool pool(3);
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(100), int64_t(12345)}) {
    for (int64_t grain : {int64_t(1), int64_t(16), int64_t(1000)}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.parallelFor(n, grain, [&](int64_t b, int64_t e, int) {
        QVERIFY(b < e);
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      });
      for (auto& h : hits) QCOMPARE(h.load(), 1);
    }
  }
}

LL_TEST(exceptionReachesCallerAndPoolSurvives) {
  ThreadPool pool(3);
  bool caught = false;
  try {
    pool.run(100, [](int64_t t, int) {
      if (t == 37) throw std::runtime_error("task 37");
    });
  } catch (const std::runtime_error& e) {
    caught = std::string(e.what()) == "task 37";
  }
  QVERIFY(caught);
  std::atomic<int> count{0};
  pool.run(50, [&](int64_t, int) { count++; });
  QCOMPARE(count.load(), 50);
}

LL_TEST(concurrentCallersAreSerialised) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 50; ++rep) pool.run(20, [&](int64_t t, int) { total += t; });
    });
  for (auto& t : callers) t.join();
  QCOMPARE(total.load(), int64_t(4 * 50 * (19 * 20 / 2)));
}

LL_TEST_MAIN("tst_backend_threadpool")
