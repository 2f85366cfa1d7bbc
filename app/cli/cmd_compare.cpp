// `layerlens-cli compare STUDENT TEACHER`: per-token JSD(p_student || p_teacher) in bits, the
// student's normalised entropy and the entropy x divergence quadrant of each position
// (ALGORITHMS.md §7) as JSON; both models must share a vocabulary (checked, with the first
// difference named). With --server both models are the server's (paths in its --models folder).
#include <filesystem>
#include <fstream>

#include "analysis_target.h"
#include "cmd_analysis_common.h"
#include "figure_out.h"
#include "runtime/analysis/teacher.h"

namespace ll::cli {
namespace {

struct CompareOpts {
  ana::ModelPrompt mp;  // the student and the prompt
  ServerTarget server;
  std::string teacher, out;
  rt::ana::TeacherRequest rq;
  fig::FigureOut figure;
};

int compareCommand(const CompareOpts& o) {
  ana::refuseFigureRemote(o.server, o.figure.path);
  fig::checkFigureOut(o.figure);
  rt::ana::CompareCall call;
  call.teacher = o.teacher;
  call.request = o.rq;
  ana::writeTextOut(o.out, [&] {
    auto student = ana::openPrompted(o.mp, o.server);
    const rt::ana::AnalysisOutput out = student->analyze(call);
    if (const rt::Session* ls = student->local()) {
      fig::FigureInput in = fig::figureInput(*ls, o.mp.model, o.mp.text, o.mp.ids);
      in.teacher = o.teacher;
      fig::writeFigure(o.figure, in, &std::get<rt::ana::TeacherComparison>(out.result));
    }
    return out.document;
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
       addServerOptions(sub, o->server);
       sub.add_option("teacher", o->teacher,
                      "teacher model file or folder (same vocabulary; with --server a path in the "
                      "server's --models folder)")
           ->required();
       sub.add_option("--entropy-threshold", o->rq.entropyThreshold, rt::ana::kTeacherEntropyHelp);
       sub.add_option("--jsd-threshold", o->rq.jsdThreshold, rt::ana::kTeacherJsdHelp);
       sub.add_option("--out", o->out, "JSON file to write")->required();
       fig::addFigureOption(sub, o->figure, "--figure", "entropy and JSD per token");
       return [o] { return compareCommand(*o); };
     }}};

}  // namespace
}  // namespace ll::cli
