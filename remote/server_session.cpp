// Per-client server sessions and their registry (see server_session.h).
#include "remote/server_session.h"

#include <chrono>
#include <random>

#include "remote/limits.h"

namespace ll::remote {

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t ServerSession::addTrace(std::shared_ptr<const rt::Trace> tr) {
  std::lock_guard<std::mutex> lock(m_tracesMutex);
  const int64_t id = m_nextTrace++;
  m_traces[id] = std::move(tr);
  while (m_traces.size() > size_t(kMaxTracesPerSession)) m_traces.erase(m_traces.begin());
  return id;
}

std::shared_ptr<const rt::Trace> ServerSession::trace(int64_t traceId) const {
  std::lock_guard<std::mutex> lock(m_tracesMutex);
  auto it = m_traces.find(traceId);
  if (it == m_traces.end())
    throw std::invalid_argument("trace_id " + std::to_string(traceId) +
                                " is unknown (the session keeps its last " +
                                std::to_string(kMaxTracesPerSession) + " traces)");
  return it->second;
}

std::shared_ptr<ServerSession> SessionRegistry::create() {
  // Session ids are unguessable so one client cannot reach another's session by counting.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) id.push_back(kHex[rng() & 15]);
  auto s = std::make_shared<ServerSession>();
  s->id = id;
  s->lastUsed = nowSeconds();
  std::lock_guard<std::mutex> lock(m_mutex);
  const int64_t now = nowSeconds();
  for (auto it = m_sessions.begin(); it != m_sessions.end();) {
    const bool idle = it->second->inFlight == 0 && now - it->second->lastUsed > kSessionIdleSeconds;
    it = idle ? m_sessions.erase(it) : std::next(it);
  }
  if (m_sessions.size() >= size_t(kMaxSessions))
    throw StatusError(
        StatusError::Code::ResourceExhausted,
        "the server has " + std::to_string(kMaxSessions) + " open sessions: close one first");
  m_sessions[id] = s;
  return s;
}

std::shared_ptr<ServerSession> SessionRegistry::find(const std::string& id) {
  std::lock_guard<std::mutex> lock(m_mutex);
  auto it = m_sessions.find(id);
  if (it == m_sessions.end())
    throw StatusError(StatusError::Code::NotFound, "session_id is unknown (closed or expired)");
  return it->second;
}

void SessionRegistry::close(const std::string& id) {
  std::shared_ptr<ServerSession> s;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_sessions.find(id);
    if (it == m_sessions.end()) return;
    s = it->second;
    m_sessions.erase(it);
  }
  ++s->epoch;  // a run still going stops at its next layer
}

size_t SessionRegistry::size() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_sessions.size();
}

}  // namespace ll::remote
