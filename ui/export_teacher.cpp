// Teacher comparison figure and data export (the JSON is rt::ana::teacherComparisonJson, as the
// CLI's compare command writes it).
#include "ui/export_teacher.h"

#include "ui/analysis_labels.h"

#include "runtime/analysis/teacher.h"
#include "runtime/api/npy_io.h"

#include <QFileInfo>

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace ll::ui {

namespace {
const rt::ana::TeacherComparison& resultOf(const Snapshot& s) {
  if (!s.teacher || !s.trace) throw std::invalid_argument("no teacher data in the current view");
  return *s.teacher;
}
}  // namespace

void writeTeacherData(const Snapshot& s, const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == "json") {
    const std::string text =
        rt::ana::teacherComparisonJson(resultOf(s), s.trace->ids).dump(1) + "\n";
    std::ofstream f(path.toStdString());
    if (!(f << text)) throw std::runtime_error("cannot write the file");
    return;
  }
  if (suffix != "npy") throw std::invalid_argument("use .json or .npy for teacher");
  const vis::FigureSpec f = vis::teacherFigure(resultOf(s), analysisLabels(s, "teacher"));
  rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
}

}  // namespace ll::ui
