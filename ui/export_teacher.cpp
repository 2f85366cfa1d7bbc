// Teacher comparison figure and data export (the JSON is rt::ana::teacherComparisonJson, as the
// CLI's compare command writes it).
#include "ui/export_teacher.h"

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

vis::FigureSpec teacherFigure(const Snapshot& s, const QString& caption) {
  const rt::ana::TeacherComparison& c = resultOf(s);
  const int T = static_cast<int>(c.jsdBits.size());
  vis::FigureSpec f;
  f.matrix.rows = 2;
  f.matrix.cols = T;
  f.matrix.values.assign(c.normalized.begin(), c.normalized.end());
  f.matrix.values.insert(f.matrix.values.end(), c.jsdBits.begin(), c.jsdBits.end());
  f.style.lo = 0.0f;
  f.style.hi = std::max(1e-6f, *std::max_element(f.matrix.values.begin(), f.matrix.values.end()));
  for (int row = 0; row < 2; ++row)
    for (int t = 0; t < T; ++t) {
      QString text = QString::number(f.matrix.values[size_t(row) * T + t], 'g', 2);
      if (row == 1 && c.quadrant[t] == rt::ana::Quadrant::Overconfident) text += " ▲";
      f.cellText << text;
    }
  f.rowLabels << "student H / ln|V|"
              << "JSD (bits)";
  for (int t = 0; t < T; ++t)
    f.colLabels << QString::number(t) + " " + (t < s.tokens.size() ? s.tokens[t] : QString());
  f.title = "Student vs teacher " + s.teacherName + " (▲ overconfident: low entropy, high JSD)";
  f.xTitle = "token";
  f.colorbarTitle = "value";
  f.caption = caption;
  return f;
}

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
  const vis::FigureSpec f = teacherFigure(s, QString());
  rt::writeNpy(path.toStdString(), f.matrix.values.data(), {f.matrix.rows, f.matrix.cols});
}

}  // namespace ll::ui
