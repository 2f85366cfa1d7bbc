// What the resident set is made of at its peak: a thread samples /proc/self/status every
// millisecond while a benchmark step runs and keeps, at the highest VmRSS seen, the split into
// file pages (the mapped model) and anonymous memory, and glibc's heap in use against held.
#pragma once

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace bench {

struct RssPeak {
  double rss = 0, anon = 0, file = 0;  // MiB
  double heapUsed = 0, heapHeld = 0;   // MiB: malloc'd and not freed; taken from the OS by malloc
  const char* phase = "";              // the step running then (RssSampler::phase)
};

class RssSampler {
 public:
  RssSampler() : m_thread([this] { loop(); }) {}
  ~RssSampler() { stop(); }
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

  // Names the step that runs from now on (a string literal).
  void phase(const char* name) { m_phase = name; }

  // Stops (true) or restarts sampling without ending the thread. Timed steps run unsampled:
  // reading /proc/self/status every millisecond took ~3% of the CPU (perf, 2 cores), which a
  // timed prefill on every core then lost. Their peak is still in VmHWM; the split is sampled
  // in the untimed runs of the same step.
  void hold(bool on) { m_hold = on; }

  // Stops sampling; the peak seen so far.
  RssPeak stop() {
    if (m_thread.joinable()) {
      m_stop = true;
      m_thread.join();
    }
    return m_peak;
  }

 private:
  void loop() {
    while (!m_stop) {
      if (m_hold) {  // rare wake-ups: each one would preempt a timed thread (2 cores)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      RssPeak s;
      const char* phase = m_phase;
      if (read(s) && s.rss > m_peak.rss) {
        s.phase = phase;
        const struct mallinfo2 mi = mallinfo2();
        s.heapUsed = double(mi.uordblks + mi.hblkhd) / 1048576.0;
        s.heapHeld = double(mi.arena + mi.hblkhd) / 1048576.0;
        m_peak = s;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  static bool read(RssPeak& s) {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return false;
    char line[256];
    auto value = [&](const char* key, double& out) {
      const size_t n = std::strlen(key);
      if (std::strncmp(line, key, n) == 0 && line[n] == ':') out = std::atof(line + n + 1) / 1024.0;
    };
    while (std::fgets(line, sizeof line, f)) {
      value("VmRSS", s.rss);
      value("RssAnon", s.anon);
      value("RssFile", s.file);
    }
    std::fclose(f);
    return s.rss > 0;
  }

  std::atomic<bool> m_stop{false}, m_hold{false};
  std::atomic<const char*> m_phase{""};
  RssPeak m_peak;
  std::thread m_thread;  // last: starts after the members it uses
};

}  // namespace bench
