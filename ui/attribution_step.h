// The worker's direct-logit-attribution step (ALGORITHMS.md §13) for the Attribution panel: the
// request's token texts resolved to ids, the attribution of the snapshot's trace at the selected
// token, and the last result kept while trace and request are the same.
#pragma once

#include "ui/view_state.h"

#include <map>
#include <string>

namespace ll::rt {
class Session;
}

namespace ll::ui {

class AttributionStep {
 public:
  // Fills s.attribution (or s.attributionError) from s.trace at s.token; nothing while the
  // request is disabled (the panel is out of view).
  void fill(Snapshot& s, rt::Session& session);
  void clear() { *this = AttributionStep(); }

 private:
  int32_t resolved(const rt::Session& session, const std::string& text);
  std::map<std::string, int32_t> m_ids;  // token texts resolved for this model
  std::shared_ptr<const rt::Trace> m_trace;
  int m_position = -1;
  int32_t m_a = -1, m_b = -1;
  std::shared_ptr<const rt::ana::Attribution> m_result;
};

// A token given as its id ("42") or its text (a vocabulary piece, also with a leading space, or
// text that encodes to one token); throws std::invalid_argument naming the problem.
int32_t resolveToken(const rt::Session& session, const std::string& text);

}  // namespace ll::ui
