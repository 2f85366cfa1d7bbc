// RemoteAnalysisJob's part of the exports that read beyond a snapshot (File > Export of the head
// grid, the residual stream): the attention maps come from the server's run of the shown trace,
// and the residual stream is read into a copy of the trace, as the local job's task session gives
// them.
#ifdef LAYERLENS_HAVE_REMOTE
#include "ui/remote_analysis_job.h"

#include <stdexcept>

namespace ll::ui {

AnalysisSource::ExportReads RemoteAnalysisJob::exportReads(
    const std::shared_ptr<const rt::Trace>& trace, bool residuals) {
  // The server keeps a session's last runs only: export the run the panels show while it is the
  // session's last one (what a settled window shows).
  if (!trace || m_last.trace != trace)
    throw std::runtime_error(
        "the shown result is no longer the server's last run; export again once the panels "
        "have settled");
  const QString where = m_target.address();
  try {
    remote::RemoteTrace on = m_last;
    if (residuals) {
      auto copy = std::make_shared<rt::Trace>(*m_last.trace);
      on.trace = copy;
      m_session->fetch(on, remote::kPartResid);
    }
    ExportReads r;
    r.trace = on.trace;
    r.attentionMap = [this, on, where](int l, int h) {
      try {
        return m_session->attentionMap(on, l, h);
      } catch (const remote::RemoteError& e) {
        throw std::runtime_error(
            QStringLiteral("the server %1: %2").arg(where, remoteReason(e, where)).toStdString());
      }
    };
    return r;
  } catch (const remote::RemoteError& e) {
    throw std::runtime_error(
        QStringLiteral("the server %1: %2").arg(where, remoteReason(e, where)).toStdString());
  }
}

}  // namespace ll::ui
#endif
