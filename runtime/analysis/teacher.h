// Student vs teacher (ALGORITHMS.md §7) for the front ends: whether two models share a vocabulary
// (the comparison is meaningless otherwise), both models' runs over the same token ids, and the
// JSON document of ana::compareWithTeacher's per-token JSD and entropy x divergence quadrants.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/analysis/lens.h"

namespace ll::rt {
class Session;
struct Model;
}  // namespace ll::rt

namespace ll::rt::ana {

// The one definition of the comparison's parameters: thresholds < 0 are the medians.
struct TeacherRequest {
  float entropyThreshold = -1.0f;
  float jsdThreshold = -1.0f;
};
inline constexpr const char* kTeacherEntropyHelp =
    "normalised-entropy threshold H/ln|V| between low and high (default: the median)";
inline constexpr const char* kTeacherJsdHelp =
    "JSD threshold in bits between low and high divergence (default: the median)";

// "" when the two models have the same vocabulary (size, and the same token text, BOS and EOS
// where both have a tokenizer); otherwise why not, naming the first difference.
std::string vocabularyMismatch(const Model& student, const Model& teacher);

// "confident-agree", "overconfident" (low entropy, high divergence), "unsure-agree",
// "unsure-disagree".
std::string quadrantName(Quadrant q);

// A student run (logits at every position; its interventions are the student's business) against
// the teacher model run over the same token ids on the teacher's session (its cache keeps the
// prefix for the next prompt). progress as Session::run's (false cancels: rt::Cancelled). Throws
// std::invalid_argument with vocabularyMismatch's reason when the vocabularies differ.
TeacherComparison compareWithTeacherModel(const Model& studentModel, const Trace& student,
                                          Session& teacher, const TeacherRequest& req = {},
                                          const std::function<bool(int, int)>& progress = {});
// Both models over the student session's prompt ids: compareWithTeacherModel of a plain run.
TeacherComparison compareModels(Session& student, Session& teacher, const TeacherRequest& req = {});

// {n_tokens, ids, jsd_bits [T], entropy_norm [T], quadrant [T] (names), entropy_threshold,
// jsd_threshold, overconfident (positions)}: what `layerlens-cli compare` writes.
nlohmann::json teacherComparisonJson(const TeacherComparison& c, const std::vector<int32_t>& ids);
// teacherComparisonJson read back (a server's compare document, untrusted): every field checked,
// the ids must be `ids` (the trace the comparison was asked for) and the overconfident positions
// the quadrants'; throws std::invalid_argument naming the field.
TeacherComparison parseTeacherComparisonJson(const nlohmann::json& j,
                                             const std::vector<int32_t>& ids);

}  // namespace ll::rt::ana
