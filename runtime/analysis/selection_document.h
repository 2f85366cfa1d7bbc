// The document `layerlens-cli select` prints for one token selection (method, params, warnings,
// kept sets, scores and, with answer > 0, the greedy continuations): built here so the CLI and the
// server's Analyze call write the same bytes.
#pragma once

#include <nlohmann/json.hpp>

#include "runtime/analysis/selection_request.h"

namespace ll::rt {
class Session;
struct Trace;
}  // namespace ll::rt

namespace ll::rt::ana {

// `select`'s request: the selection plus the command's --answer and --sweep.
struct SelectCall {
  SelectionRequest selection;
  int answer = 0;      // greedy tokens from the kept tokens and the full prompt (0: none)
  bool sweep = false;  // GemFilter: the kept set at every layer too
  bool operator==(const SelectCall&) const = default;
};
// The most answer tokens a request may ask for (a remote client's request is bounded by it).
inline constexpr int kMaxAnswerTokens = 1 << 16;

// Whether the call reads a full trace of the prompt (GemFilter without sweep stops after its
// layer; PromptDistill runs its own stages).
bool selectNeedsTrace(const SelectCall& call);

// tr: a full trace of the session's prompt when selectNeedsTrace (or one whose interventions the
// selection keeps); nullptr otherwise. "reason" is set when the method keeps more than k.
nlohmann::json selectionDocument(Session& s, const Trace* tr, const SelectCall& call);

// PromptDistill's outcome (kept set, first-stage token scores, kept set per stage, reason,
// warnings; params resolved from req as the run resolves them) read back from a `select` document
// a server sent for req on an nTokens prompt (selection_document_parse.cpp). Untrusted: every
// field is checked against the prompt and the model; throws std::invalid_argument naming it.
SelectionOutcome parsePromptDistillDocument(const std::string& document,
                                            const SelectionRequest& req, int nTokens,
                                            const ModelSpec& spec);

}  // namespace ll::rt::ana
