// RemoteAnalysisJob's helpers for the analyses it runs on the server's aux session: the named
// analysis call with the server's refusals turned into the errors the local analysis throws, and
// typed tokens resolved over the server's vocabulary.
#ifdef LAYERLENS_HAVE_REMOTE
#include "ui/remote_analysis_job.h"
#include "ui/token_resolve.h"

#include <stdexcept>

namespace ll::ui {

std::string RemoteAnalysisJob::analyzeAux(const std::string& name, const nlohmann::json& request,
                                          const rt::Interventions& iv, const Alive& alive,
                                          const std::function<void(int, int)>& onProgress,
                                          std::vector<rt::ana::OutputArray>* arrays,
                                          const remote::RemoteTrace* on) {
  // grpc::StatusCode: the analysis refused the request (a bad value, a teacher path the server's
  // --models folder lacks or may not open, a result over the message limit); the others (lost
  // connection, deadline, cancelled, unauthenticated) are the connection's.
  constexpr int kInvalidArgument = 3, kNotFound = 5, kPermissionDenied = 7, kExhausted = 8,
                kFailedPrecondition = 9;
  try {
    return m_aux->analyze(
        name, request.dump(), iv,
        [&](int done, int n) {
          if (onProgress) onProgress(done, n);
          return !alive || alive();
        },
        arrays, on);
  } catch (const remote::RemoteError& e) {
    if (e.code != kInvalidArgument && e.code != kNotFound && e.code != kPermissionDenied &&
        e.code != kExhausted && e.code != kFailedPrecondition)
      throw;
    throw std::invalid_argument(e.reason.empty() ? remoteReason(e, m_target.address()).toStdString()
                                                 : e.reason);
  }
}

int32_t RemoteAnalysisJob::resolveTypedToken(const std::string& text) {
  return resolveTokenIn(
      text, m_spec.nVocab, [&](int32_t id) { return piece(id); },
      [&](const std::string& t) { return m_aux->tokenize(t, 0, false).ids; });
}

}  // namespace ll::ui
#endif
