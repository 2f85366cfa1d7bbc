// Student vs teacher comparison for the front ends: vocabulary check, the two runs, JSON (and the
// checked reader of a server's document).
#include "runtime/analysis/teacher.h"

#include "runtime/analysis/document_reader.h"

#include <climits>
#include <stdexcept>

#include "runtime/api/session.h"
#include "runtime/model/model.h"
#include "runtime/tokenizer/tokenizer.h"

namespace ll::rt::ana {

std::string vocabularyMismatch(const Model& a, const Model& b) {
  if (a.spec.nVocab != b.spec.nVocab)
    return "the student has " + std::to_string(a.spec.nVocab) + " tokens, the teacher " +
           std::to_string(b.spec.nVocab) + ": the two models do not share a vocabulary";
  if (!a.tokenizer || !b.tokenizer) return "";  // ids only: nothing more to compare
  const Tokenizer &ta = *a.tokenizer, &tb = *b.tokenizer;
  if (ta.vocabSize() != tb.vocabSize())
    return "the tokenizers have " + std::to_string(ta.vocabSize()) + " and " +
           std::to_string(tb.vocabSize()) + " tokens: the two models do not share a vocabulary";
  for (int32_t id = 0; id < ta.vocabSize(); ++id)
    if (ta.piece(id) != tb.piece(id))
      return "token " + std::to_string(id) + " is '" + ta.piece(id) + "' in the student and '" +
             tb.piece(id) + "' in the teacher: the two models do not share a vocabulary";
  if (ta.bos() != tb.bos() || ta.eos() != tb.eos())
    return "the models' BOS/EOS ids differ: the two models do not share a vocabulary";
  return "";
}

std::string quadrantName(Quadrant q) {
  switch (q) {
    case Quadrant::ConfidentAgree:
      return "confident-agree";
    case Quadrant::Overconfident:
      return "overconfident";
    case Quadrant::UnsureAgree:
      return "unsure-agree";
    case Quadrant::UnsureDisagree:
      break;
  }
  return "unsure-disagree";
}

TeacherComparison compareWithTeacherModel(const Model& studentModel, const Trace& student,
                                          Session& teacher, const TeacherRequest& req,
                                          const std::function<bool(int, int)>& progress) {
  if (const std::string why = vocabularyMismatch(studentModel, teacher.model()); !why.empty())
    throw std::invalid_argument("compare: " + why);
  if (student.ids.empty()) throw std::invalid_argument("compare: no prompt");
  teacher.setPromptIds(student.ids);
  RunRequest rq;
  rq.capture.enabled = false;  // logits of every position are all the comparison reads
  auto t = teacher.run(rq, progress);
  return compareWithTeacher(student, *t, req.entropyThreshold, req.jsdThreshold);
}

TeacherComparison compareModels(Session& student, Session& teacher, const TeacherRequest& req) {
  if (student.promptIds().empty()) throw std::invalid_argument("compare: no prompt");
  RunRequest rq;
  rq.capture.enabled = false;
  auto s = student.run(rq);
  return compareWithTeacherModel(student.model(), *s, teacher, req);
}

nlohmann::json teacherComparisonJson(const TeacherComparison& c, const std::vector<int32_t>& ids) {
  nlohmann::json j;
  j["n_tokens"] = ids.size();
  j["ids"] = ids;
  j["jsd_bits"] = c.jsdBits;
  j["entropy_norm"] = c.normalized;
  nlohmann::json q = nlohmann::json::array(), over = nlohmann::json::array();
  for (size_t i = 0; i < c.quadrant.size(); ++i) {
    q.push_back(quadrantName(c.quadrant[i]));
    if (c.quadrant[i] == Quadrant::Overconfident) over.push_back(i);
  }
  j["quadrant"] = q;
  j["entropy_threshold"] = c.entropyThreshold;
  j["jsd_threshold"] = c.jsdThreshold;
  j["overconfident"] = over;
  return j;
}

TeacherComparison parseTeacherComparisonJson(const nlohmann::json& j,
                                             const std::vector<int32_t>& ids) {
  const DocumentReader d("compare document", j);
  const int64_t T = static_cast<int64_t>(ids.size());
  d.integer("n_tokens", T, T);
  if (d.integers("ids", ids.size(), INT32_MIN, INT32_MAX) != ids)
    d.bad("ids", "the prompt's token ids");
  TeacherComparison c;
  c.jsdBits = d.floats("jsd_bits", ids.size());
  c.normalized = d.floats("entropy_norm", ids.size());
  std::vector<int32_t> over;
  const nlohmann::json& q = d.array("quadrant", d.field("quadrant"), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    static constexpr Quadrant kAll[] = {Quadrant::ConfidentAgree, Quadrant::Overconfident,
                                        Quadrant::UnsureAgree, Quadrant::UnsureDisagree};
    const Quadrant* found = nullptr;
    for (const Quadrant& k : kAll)
      if (q[i].is_string() && q[i].get<std::string>() == quadrantName(k)) found = &k;
    if (!found)
      d.bad("quadrant",
            "an array of confident-agree, overconfident, unsure-agree, unsure-disagree");
    c.quadrant.push_back(*found);
    if (*found == Quadrant::Overconfident) over.push_back(static_cast<int32_t>(i));
  }
  c.entropyThreshold = d.floatAt("entropy_threshold", d.field("entropy_threshold"));
  c.jsdThreshold = d.floatAt("jsd_threshold", d.field("jsd_threshold"));
  const nlohmann::json& o = d.field("overconfident");
  if (!o.is_array() || d.integers("overconfident", o.size(), 0, T - 1) != over)
    d.bad("overconfident", "the positions whose quadrant is overconfident");
  return c;
}

}  // namespace ll::rt::ana
