// A pass's watch over the pipeline ranks (see pipeline_watch.h).
#include "runtime/dist/pipeline_watch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "runtime/dist/pipeline_commands.h"

namespace ll::rt::dist::detail {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxNote = 64;  // a progress or cancel message: a pass id and a count

std::vector<char> passNote(PassId id) {
  WireWriter w;
  w.put<uint64_t>(id.session);
  w.put<uint64_t>(id.pass);
  return std::move(w.bytes());
}

PassId readPassNote(WireReader& r) {
  PassId id;
  id.session = r.get<uint64_t>();
  id.pass = r.get<uint64_t>();
  return id;
}

std::string seconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%g s", s);
  return b;
}

}  // namespace

void writePass(WireWriter& w, const PassHeader& p) {
  w.put<uint8_t>(p.watched);
}

PassHeader readPass(WireReader& r) {
  PassHeader p;
  p.watched = r.get<uint8_t>() != 0;
  return p;
}

void StageWatch::progress(int layersDone) {
  std::vector<char> b = passNote(m_id);
  WireWriter w;
  w.put<int32_t>(layersDone);
  b.insert(b.end(), w.bytes().begin(), w.bytes().end());
  m_t.send(0, kTagProgress, b.data(), b.size(), m_timeoutS, "the progress of a pass");
}

bool StageWatch::cancelled() {
  while (!m_cancelled && m_t.poll(0, kTagCancel)) {
    const std::vector<char> b = m_t.recv(0, kTagCancel, kMaxNote, m_timeoutS, "a cancel");
    WireReader r(b);
    if (readPassNote(r) == m_id) m_cancelled = true;
  }
  return m_cancelled;
}

StatusWait awaitStatus(Transport& t, PassId id, const EngineProgress& progress, int layersDone,
                       int total, double timeoutS, const std::function<std::string(int)>& rankText,
                       bool alreadyCancelled) {
  const int N = t.size();
  StatusWait w;
  w.replies.resize(size_t(N));
  w.cancelled = alreadyCancelled;
  std::vector<char> replied(size_t(N), 0);
  int left = N - 1;
  auto heardAt = Clock::now(), askedAt = Clock::now();
  auto nap = std::chrono::microseconds(20);
  // Progress messages of earlier passes may still be queued (they travel on their own tag):
  // they are read and dropped here too.
  auto readProgress = [&](int r, bool* heard, bool* advanced) {
    while (t.poll(r, kTagProgress)) {
      const std::vector<char> b = t.recv(r, kTagProgress, kMaxNote, timeoutS, "progress");
      *heard = true;
      WireReader rd(b);
      if (readPassNote(rd) != id) continue;
      const int done = rd.get<int32_t>();
      if (done > layersDone && done <= total) {
        layersDone = done;
        *advanced = true;
      }
    }
  };
  auto cancel = [&] {
    w.cancelled = true;
    const std::vector<char> note = passNote(id);
    for (int r = 1; r < N; ++r) {
      if (replied[size_t(r)]) continue;
      try {
        t.send(r, kTagCancel, note.data(), note.size(), timeoutS, "a cancel");
      } catch (const TransportError& e) {
        throw TransportError(rankText(r) + e.what());
      }
    }
  };
  while (left > 0) {
    bool heard = false, advanced = false;
    for (int r = 1; r < N; ++r) {
      readProgress(r, &heard, &advanced);
      if (replied[size_t(r)] || !t.poll(r, kTagReply)) continue;
      w.replies[size_t(r)] = t.recv(r, kTagReply, kMaxReply, timeoutS, "status");
      replied[size_t(r)] = 1;
      --left;
      heard = true;
    }
    const auto now = Clock::now();
    if (!w.cancelled && progress && left > 0 &&
        (advanced || std::chrono::duration<double>(now - askedAt).count() >= kAskS)) {
      askedAt = now;
      bool go = false;
      try {
        go = progress(layersDone, total);
      } catch (...) {
        w.progressError = std::current_exception();
      }
      if (!go) cancel();
    }
    if (heard) {
      heardAt = now;
      nap = std::chrono::microseconds(20);
      continue;
    }
    if (timeoutS > 0 && std::chrono::duration<double>(now - heardAt).count() > timeoutS) {
      int r = 1;
      while (replied[size_t(r)]) ++r;
      throw TransportError(rankText(r) + "nothing from rank " + std::to_string(r) + " within " +
                           seconds(timeoutS) + " (no result for its stage; it died or hangs)");
    }
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(250));
  }
  bool ignored = false;
  for (int r = 1; r < N; ++r) readProgress(r, &ignored, &ignored);
  return w;
}

}  // namespace ll::rt::dist::detail
