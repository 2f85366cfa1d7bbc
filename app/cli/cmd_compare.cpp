// `layerlens-cli compare STUDENT TEACHER`: per-token JSD(p_student || p_teacher) in bits, the
// student's normalised entropy and the entropy x divergence quadrant of each position
// (ALGORITHMS.md §7) as JSON; both models must share a vocabulary (checked, with the first
// difference named).
#include <filesystem>
#include <fstream>

#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/teacher.h"

namespace ll::cli {
namespace {

struct CompareOpts {
  ana::ModelPrompt mp;  // the student and the prompt
  std::string teacher, out;
  rt::ana::TeacherRequest rq;
  fig::FigureOut figure;
};

int compareCommand(const CompareOpts& o) {
  fig::checkFigureOut(o.figure);
  ana::writeJsonOut(o.out, [&] {
    auto student = ana::openSession(o.mp);
    rt::Session teacher;
    teacher.load(o.teacher, rt::parseBackend(o.mp.backend, o.mp.threads, o.mp.cpuMath));
    const auto c = rt::ana::compareModels(*student, teacher, o.rq);
    fig::FigureInput in = fig::figureInput(*student, o.mp.model, o.mp.text, o.mp.ids);
    in.teacher = o.teacher;
    fig::writeFigure(o.figure, in, &c);
    return rt::ana::teacherComparisonJson(c, student->promptIds());
  });
  return 0;
}

RegisterCommand reg{
    {"compare",
     "student vs teacher: per-token JSD, normalised entropy and quadrant (same vocabulary; JSON "
     "--out)",
     [](CLI::App& sub) -> std::function<int()> {
       auto o = std::make_shared<CompareOpts>();
       ana::addModelPrompt(sub, o->mp);
       sub.add_option("teacher", o->teacher, "teacher model file or folder (same vocabulary)")
           ->required();
       sub.add_option("--entropy-threshold", o->rq.entropyThreshold, rt::ana::kTeacherEntropyHelp);
       sub.add_option("--jsd-threshold", o->rq.jsdThreshold, rt::ana::kTeacherJsdHelp);
       sub.add_option("--out", o->out, "JSON file to write")->required();
       fig::addFigureOption(sub, o->figure, "--figure", "entropy and JSD per token");
       return [o] { return compareCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
