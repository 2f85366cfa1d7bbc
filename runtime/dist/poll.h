// Waiting with a deadline for a transport that has none of its own (MPI, NCCL): poll, and sleep
// briefly between polls so ranks oversubscribed on few cores do not spin on a core that a
// computing rank needs.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace ll::rt::dist {

// Polls done() until it returns true or timeoutS passes (<= 0: forever). The sleep between polls
// grows from 20 us to 250 us: a pass's messages arrive within microseconds of each other, an idle
// rank costs almost nothing.
template <class F>
bool pollUntil(double timeoutS, F done) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto nap = std::chrono::microseconds(20);
  for (;;) {
    if (done()) return true;
    if (timeoutS > 0 && std::chrono::duration<double>(Clock::now() - start).count() > timeoutS)
      return false;
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(250));
  }
}

// "3 s", "0.5 s": a deadline in messages.
inline std::string secondsText(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%g s", s);
  return b;
}

}  // namespace ll::rt::dist
