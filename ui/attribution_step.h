// The worker's direct-logit-attribution step (ALGORITHMS.md §13) for the Attribution panel: the
// request's token texts resolved to ids, the attribution of the snapshot's trace at the selected
// token, and the last result kept while trace and request are the same. The same step serves a
// model in this process and one on a server (AttributionModel says how to read and compute).
#pragma once

#include "runtime/analysis/attribution.h"
#include "ui/view_state.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ll::rt {
class Session;
}

namespace ll::ui {

// What the step needs of the model: its vocabulary (token texts, the encoder without BOS) and the
// attribution of the snapshot's trace.
struct AttributionModel {
  int32_t nVocab = 0;
  std::function<std::string(int32_t)> piece;
  std::function<std::vector<int32_t>(const std::string&)> encode;
  std::function<rt::ana::Attribution(const rt::ana::AttributionRequest&)> compute;
};

class AttributionStep {
 public:
  // Fills s.attribution (or s.attributionError) from s.trace at s.token; nothing while the
  // request is disabled (the panel is out of view). compute's std::invalid_argument becomes the
  // panel's error; anything else propagates.
  void fill(Snapshot& s, const AttributionModel& model);
  // The model in this process: the session's tokenizer and engine.
  void fill(Snapshot& s, rt::Session& session);
  void clear() { *this = AttributionStep(); }

 private:
  int32_t resolved(const AttributionModel& model, const std::string& text);
  std::map<std::string, int32_t> m_ids;  // token texts resolved for this model
  std::shared_ptr<const rt::Trace> m_trace;
  int m_position = -1;
  int32_t m_a = -1, m_b = -1;
  std::shared_ptr<const rt::ana::Attribution> m_result;
};

// A token given as its id ("42") or its text (a vocabulary piece, also with a leading space, or
// text that encodes to one token); throws std::invalid_argument naming the problem.
int32_t resolveToken(const AttributionModel& model, const std::string& text);
int32_t resolveToken(const rt::Session& session, const std::string& text);

}  // namespace ll::ui
