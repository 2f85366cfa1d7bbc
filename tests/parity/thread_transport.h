// Pipeline ranks as threads of one process (tests of runtime/dist without MPI): mailboxes keyed
// by (from, to, tag), a receive waiting on a condition variable until its deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <tuple>

#include "runtime/dist/transport.h"

namespace pipetest {

using ll::rt::dist::Transport;
using ll::rt::dist::TransportError;

class Hub {
 public:
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::tuple<int, int, int>, std::deque<std::vector<char>>> boxes;
};

class ThreadTransport : public Transport {
 public:
  ThreadTransport(Hub& hub, int rank, int size) : m_hub(hub), m_rank(rank), m_size(size) {}
  int rank() const override { return m_rank; }
  int size() const override { return m_size; }
  void send(int to, int tag, const void* data, size_t bytes, double, const std::string&) override {
    std::lock_guard<std::mutex> lock(m_hub.mu);
    const char* p = static_cast<const char*>(data);
    m_hub.boxes[{m_rank, to, tag}].emplace_back(p, p + bytes);
    m_hub.cv.notify_all();
  }
  std::vector<char> recv(int from, int tag, size_t maxBytes, double timeoutS,
                         const std::string& what) override {
    std::unique_lock<std::mutex> lock(m_hub.mu);
    auto& box = m_hub.boxes[{from, m_rank, tag}];
    const auto ready = [&] { return !box.empty(); };
    if (timeoutS > 0) {
      if (!m_hub.cv.wait_for(lock, std::chrono::duration<double>(timeoutS), ready))
        throw TransportError("nothing from rank " + std::to_string(from) + " (" + what +
                             "; it died or hangs)");
    } else {
      m_hub.cv.wait(lock, ready);
    }
    std::vector<char> m = std::move(box.front());
    box.pop_front();
    if (m.size() > maxBytes) throw TransportError("message too long for " + what);
    return m;
  }
  bool poll(int from, int tag) override {
    std::lock_guard<std::mutex> lock(m_hub.mu);
    auto it = m_hub.boxes.find({from, m_rank, tag});
    return it != m_hub.boxes.end() && !it->second.empty();
  }
  void abort(const std::string& why) override { throw std::runtime_error("abort: " + why); }

 private:
  Hub& m_hub;
  int m_rank, m_size;
};

}  // namespace pipetest
