// The command analyses run on a Session (analysis_runs.h): the documents of `patch`, `knockout`,
// `steer-sweep`, `contrast`, `compare`, `routing` and `steer-vector`, key for key as the commands
// built them in process, so a server's bytes equal a local run's.
#include "runtime/analysis/analysis_runs.h"

#include <stdexcept>

#include "runtime/analysis/knockout_document.h"
#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/patch_document.h"
#include "runtime/analysis/steering.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt::ana {
namespace {

using Json = nlohmann::json;

// printJson's form of the printed documents (invalid UTF-8 in token pieces replaced).
std::string printed(const Json& j) {
  return j.dump(1, ' ', false, Json::error_handler_t::replace);
}

// The commands without intervention flags read the plain model: interventions sent anyway are
// refused rather than ignored.
void refuseBase(const RunRequest& base, const char* name) {
  if (!(base.interventions == Interventions{}) || base.subset)
    throw std::invalid_argument(std::string(name) + " takes no interventions");
}

std::string pieceText(const Session& s, int32_t id) {
  const auto& m = s.model();
  return m.tokenizer ? m.tokenizer->piece(id) : std::to_string(id);
}

std::vector<int32_t> patchPrompt(const Session& s, const PatchCall& c, const std::string& text,
                                 const std::vector<int32_t>& ids) {
  if (!ids.empty()) return ids;
  if (!s.model().tokenizer) throw std::invalid_argument("the model has no tokenizer; pass ids");
  auto t = s.model().tokenizer->encode(text, c.addBos).ids;
  if (t.empty()) throw std::invalid_argument("the prompt '" + text + "' gives no tokens");
  return t;
}

// base: the GUI's prompt-run interventions (router edits, knockout) in every pass; the command
// sends none.
AnalysisOutput runPatch(Session& s, const PatchCall& c, const RunRequest& base,
                        const RunProgress& progress) {
  if (base.subset) throw std::invalid_argument("patch takes no token subset");
  if (c.clean.empty() && c.cleanIds.empty())
    throw std::invalid_argument("patch: give the clean prompt (clean or clean_ids)");
  const bool corrupted = !c.corrupt.empty() || !c.corruptIds.empty();
  const auto clean = patchPrompt(s, c, c.clean, c.cleanIds);
  const auto corrupt =
      corrupted ? patchPrompt(s, c, c.corrupt, c.corruptIds) : std::vector<int32_t>{};
  PatchingResult r = activationPatching(s, clean, corrupt, c.request, base.interventions, progress);
  AnalysisOutput out = patchOutput(r);
  out.result = std::move(r);
  return out;
}

Json knockoutDocument(const Session& s, const std::vector<int>& from, const std::vector<int>& to,
                      const KnockoutResult& r, const KnockoutReadout* swept) {
  return knockoutDocument(s.model().spec, from, to, r, pieceText(s, r.answer), swept);
}

// readout: the knockout the base interventions carry (the GUI's, its layers as given) measured
// under the base's other interventions (router edits), as the GUI's Knockout effect panel does.
AnalysisOutput runKnockoutReadout(Session& s, const KnockoutCall& c, const RunRequest& base,
                                  const RunProgress& progress) {
  if (base.subset) throw std::invalid_argument("knockout takes no token subset");
  if (!base.interventions.knockout)
    throw std::invalid_argument("knockout: readout needs the knockout in the interventions");
  const Knockout& ko = *base.interventions.knockout;
  KnockoutReadoutRequest rq;
  rq.window = c.window;
  rq.sweep = c.sweep;
  rq.answer = c.answer;
  KnockoutReadout rr = knockoutReadout(s, s.promptIds(), base.interventions, ko, rq, progress);
  AnalysisOutput out;
  out.document = printed(knockoutDocument(s, ko.from, ko.to, rr.effect, c.sweep ? &rr : nullptr));
  out.result = std::move(rr);
  return out;
}

AnalysisOutput runKnockout(Session& s, const KnockoutCall& c, const RunRequest& base,
                           const RunProgress& progress) {
  if (c.readout) return runKnockoutReadout(s, c, base, progress);
  refuseBase(base, "knockout");
  const int T = static_cast<int>(s.promptIds().size()), L = s.model().spec.nLayer;
  const int layer = c.layer >= 0 ? c.layer : L / 2;
  const auto from = parseSpan(c.from, T), to = parseSpan(c.to, T);
  const KnockoutResult r = attentionKnockout(s, from, to, layer, c.window, c.answer);
  // The readout the GUI's Knockout effect panel draws: the effect, and the sweep when asked.
  KnockoutReadout rr;
  rr.effect = r;
  rr.window = c.window;
  if (c.sweep) {
    KnockoutReadoutRequest rq;
    rq.window = c.window;
    rq.sweep = true;
    rq.answer = r.answer;
    rr = knockoutReadout(s, s.promptIds(), {}, Knockout{from, to, r.layerBegin, r.layerEnd}, rq,
                         progress);
  }
  AnalysisOutput out;
  out.document = printed(knockoutDocument(s, from, to, r, c.sweep ? &rr : nullptr));
  out.result = std::move(rr);
  return out;
}

void checkVector(const Session& s, const std::vector<float>& v, const char* name) {
  const int d = s.model().spec.nEmbd;
  if (static_cast<int64_t>(v.size()) != d)
    throw std::invalid_argument(std::string(name) + ": the steering vector has " +
                                std::to_string(v.size()) + " values, the model's n_embd is " +
                                std::to_string(d));
}

// The unsteered run the sweeps compare with: env's trace (the GUI's prompt run, its own
// interventions in every steered pass) or a plain run of the session's prompt (the command's).
AnalysisOutput runSteerSweep(Session& s, const SteerSweepCall& c, const RunProgress& progress,
                             const AnalysisEnv& env) {
  SteeringSweepRequest rq = c.request;
  if (rq.fromPos < 0) throw std::invalid_argument("--from: the start index is negative");
  if (rq.layer < 0) rq.layer = defaultSteeringLayer(s.model().spec.nLayer);
  checkVector(s, c.vector, "steer-sweep");
  auto tr = baseTrace(s, {}, progress, env);
  SteeringSweepResult r = steeringSweep(s, *tr, c.vector, rq, progress);
  AnalysisOutput out;
  out.document = steeringSweepJson(r).dump(1);
  out.result = std::move(r);
  return out;
}

AnalysisOutput runCompare(Session& s, const CompareCall& c, const RunProgress& progress,
                          const AnalysisEnv& env) {
  if (!env.openModel && !env.teacherSession)
    throw std::logic_error("compare: no way to open a teacher model here");
  std::shared_ptr<const Trace> student;
  if (env.trace) {
    // The GUI's prompt run (its interventions its own), as the local Teacher panel reads it.
    student = baseTrace(s, {}, progress, env);
    if (!student->allLogits)
      throw std::invalid_argument("compare: the given trace holds the last position's logits only");
  } else if (s.promptIds().empty()) {
    throw std::invalid_argument("compare: no prompt");
  }
  Session fresh;
  Session* teacher = &fresh;
  if (env.teacherSession)
    teacher = &env.teacherSession(c.teacher);
  else
    env.openModel(fresh, c.teacher);
  if (!student) {
    // compareModels's plain student run, with progress.
    RunRequest rq;
    rq.capture.enabled = false;
    student = s.run(rq, progress);
  }
  TeacherComparison r = compareWithTeacherModel(s.model(), *student, *teacher, c.request, progress);
  AnalysisOutput out;
  out.document = teacherComparisonJson(r, student->ids).dump(1);
  out.result = std::move(r);
  return out;
}

}  // namespace

AnalysisOutput runCommandAnalysis(Session& s, const AnalysisRequest& req, const RunRequest& base,
                                  const RunProgress& progress, const AnalysisEnv& env) {
  if (const auto* r = std::get_if<RoutingCall>(&req)) return runRouting(s, *r, base, progress);
  // patch runs under the base's interventions; knockout's readout reads its knockout from them.
  if (const auto* c = std::get_if<PatchCall>(&req)) return runPatch(s, *c, base, progress);
  if (const auto* c = std::get_if<KnockoutCall>(&req)) return runKnockout(s, *c, base, progress);
  refuseBase(base, analysisName(req));
  if (const auto* c = std::get_if<SteerSweepCall>(&req)) return runSteerSweep(s, *c, progress, env);
  if (const auto* c = std::get_if<SteerVectorCall>(&req)) return runSteerVector(s, *c, progress);
  if (const auto* c = std::get_if<CompareCall>(&req)) return runCompare(s, *c, progress, env);
  const auto& c = std::get<ExpertContrastRequest>(req);
  ExpertContrastResult r = expertContrast(s, c, progress);
  AnalysisOutput out;
  out.document = expertContrastJson(r).dump(1);
  out.result = std::move(r);
  return out;
}

}  // namespace ll::rt::ana
