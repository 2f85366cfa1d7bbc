// The server's per-client sessions: each owns an rt::Session on a shared model, the traces it ran
// (by id, the last few), and an epoch that a newer run, generation or prompt bumps so the running
// one cancels itself at its next layer, as the GUI's worker cancels a stale request.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/api/session.h"

namespace ll::remote {

// An error with its gRPC status code (the service maps it onto the call's status).
struct StatusError : std::runtime_error {
  enum class Code { NotFound, ResourceExhausted, Cancelled, Unauthenticated };
  StatusError(Code c, const std::string& what) : std::runtime_error(what), code(c) {}
  Code code;
};

struct ServerSession {
  std::string id;
  std::string modelPath;      // as the client named it
  rt::BackendChoice backend;  // as opened: a second model the session opens (compare) uses it too
  // Held while `session` computes (runs, maps, lens, generation): one request at a time.
  std::mutex mutex;
  rt::Session session;
  // What the server's SessionAttach hook tied to this session (`mpirun ... serve`: the session's
  // stages on the other ranks); released before `session`.
  std::shared_ptr<void> attached;
  // The first layer of each rank's stage in that split (set by the hook), empty in one process.
  std::vector<int> stageFirst;
  // compare's teacher model (Analyze "compare"), kept across calls as the GUI's job keeps its
  // teacher session: the next prompt reuses its prefix, so a remote GUI's teacher gives the local
  // one's bits. A new path replaces it; guarded by `mutex`; released with the session.
  std::unique_ptr<rt::Session> teacher;
  std::string teacherPath;
  // Bumped by each Run, Generate and SetPrompt; a request whose epoch is no longer current stops.
  std::atomic<uint64_t> epoch{0};
  std::atomic<int64_t> lastUsed{0};  // steady-clock seconds
  std::atomic<int> inFlight{0};

  int64_t addTrace(std::shared_ptr<const rt::Trace> tr);
  // Throws std::invalid_argument naming the id when it is unknown or was dropped.
  std::shared_ptr<const rt::Trace> trace(int64_t traceId) const;

 private:
  mutable std::mutex m_tracesMutex;
  std::map<int64_t, std::shared_ptr<const rt::Trace>> m_traces;
  int64_t m_nextTrace = 1;
};

class SessionRegistry {
 public:
  // A new session (random id); closes sessions idle past kSessionIdleSeconds first and throws
  // StatusError(ResourceExhausted) when kMaxSessions are open.
  std::shared_ptr<ServerSession> create();
  // Throws StatusError(NotFound) for an unknown id.
  std::shared_ptr<ServerSession> find(const std::string& id);
  void close(const std::string& id);
  size_t size() const;

 private:
  mutable std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<ServerSession>> m_sessions;
};

int64_t nowSeconds();

// Marks a session in use for the lifetime of a call (idle sessions only are closed).
class SessionUse {
 public:
  explicit SessionUse(std::shared_ptr<ServerSession> s) : m_s(std::move(s)) {
    ++m_s->inFlight;
    m_s->lastUsed = nowSeconds();
  }
  ~SessionUse() {
    m_s->lastUsed = nowSeconds();
    --m_s->inFlight;
  }
  SessionUse(const SessionUse&) = delete;
  SessionUse& operator=(const SessionUse&) = delete;
  ServerSession* operator->() const { return m_s.get(); }
  ServerSession& operator*() const { return *m_s; }

 private:
  std::shared_ptr<ServerSession> m_s;
};

}  // namespace ll::remote
