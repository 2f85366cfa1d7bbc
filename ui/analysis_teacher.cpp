// AnalysisJob's teacher stage (ALGORITHMS.md §7): the teacher model, loaded on the worker once per
// path, runs over the shown prompt's tokens on its own session (its cache keeps the prefix for the
// next keystroke); cached per trace and path; streamed last, so no panel waits for the second
// model.
#include "runtime/analysis/teacher.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "ui/analysis_job.h"

#include <QFileInfo>

namespace ll::ui {

void AnalysisJob::runTeacher(Snapshot& s, const Alive& alive) {
  TeacherCache& c = m_teacherCache;
  const std::string& path = s.state.teacher.model;
  s.teacherName = QFileInfo(QString::fromStdString(path)).fileName();
  try {
    if (!c.answers(s)) {
      c = {};
      if (!m_teacher || m_teacherPath != path) {
        m_teacher.reset();
        m_teacherPath.clear();
        auto t = std::make_unique<rt::Session>();
        t->load(path, m_backend ? *m_backend : rt::BackendChoice{});
        m_teacher = std::move(t);
        m_teacherPath = path;
      }
      if (alive && !alive()) throw rt::Cancelled();
      auto r = rt::ana::compareWithTeacherModel(m_session->model(), *s.trace, *m_teacher, {},
                                                [&](int, int) { return !alive || alive(); });
      c = {s.trace, path, std::make_shared<const rt::ana::TeacherComparison>(std::move(r))};
    }
    s.teacher = c.result;
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    s.teacherError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
