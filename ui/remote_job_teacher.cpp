// RemoteAnalysisJob's teacher stage (ALGORITHMS.md §7): the server's "compare" on m_aux over the
// prompt session's own trace, its teacher model (a path in the server's --models folder) kept on
// m_aux's server session across keystrokes as AnalysisJob keeps its teacher session, so the
// teacher's prefix reuse and bits are the local ones; read back with the checked parser and
// cached per trace and path as AnalysisJob caches it.
#ifdef LAYERLENS_HAVE_REMOTE
#include "runtime/analysis/teacher.h"
#include "runtime/engine/engine.h"
#include "ui/remote_analysis_job.h"

#include <QFileInfo>

#include <stdexcept>

namespace ll::ui {

void RemoteAnalysisJob::runTeacher(Snapshot& s, const Alive& alive) {
  TeacherCache& c = m_teacherCache;
  const std::string& path = s.state.teacher.model;
  s.teacherName = QFileInfo(QString::fromStdString(path)).fileName();
  try {
    if (!c.answers(s)) {
      c = {};
      if (alive && !alive()) throw rt::Cancelled();
      if (!s.trace || m_last.trace != s.trace) throw rt::Cancelled();  // a newer run superseded it
      rt::ana::CompareCall call;
      call.teacher = path;
      const std::string doc =
          analyzeAux(rt::ana::analysisName(call), rt::ana::analysisRequestJson(call), {}, alive, {},
                     nullptr, &m_last);
      if (alive && !alive()) throw rt::Cancelled();
      const nlohmann::json j = parseDocument(doc, rt::ana::analysisName(call));
      auto r = rt::ana::parseTeacherComparisonJson(j, s.trace->ids);
      c = {s.trace, path, std::make_shared<const rt::ana::TeacherComparison>(std::move(r))};
    }
    s.teacher = c.result;
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const remote::RemoteError&) {
    throw;  // the connection's failure: the window's error, not the panel's
  } catch (const std::exception& e) {
    s.teacherError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
#endif
