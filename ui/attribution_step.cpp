#include "ui/attribution_step.h"

#include "runtime/analysis/attribution.h"
#include "runtime/api/session.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/token_resolve.h"
#include "visualizers/qt/token_label.h"

#include <algorithm>
#include <stdexcept>

namespace ll::ui {

namespace {

std::string trimmed(const std::string& t) {
  const size_t b = t.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return t.substr(b, t.find_last_not_of(" \t\r\n") - b + 1);
}

// The session's vocabulary (compute left empty: resolveToken does not need it).
AttributionModel vocabularyOf(const rt::Session& session) {
  const rt::Tokenizer& tok = *session.model().tokenizer;
  AttributionModel m;
  m.nVocab = session.model().spec.nVocab;
  m.piece = [&tok](int32_t id) { return tok.piece(id); };
  m.encode = [&tok](const std::string& text) { return tok.encode(text, 0).ids; };
  return m;
}

}  // namespace

int32_t resolveToken(const AttributionModel& model, const std::string& text) {
  return resolveTokenIn(text, model.nVocab, model.piece, model.encode);
}

int32_t resolveTokenIn(const std::string& text, int32_t nVocab,
                       const std::function<std::string(int32_t)>& piece,
                       const std::function<std::vector<int32_t>(const std::string&)>& encode) {
  const int32_t V = nVocab;
  const std::string t = trimmed(text);
  if (!t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (t.size() > 9 || std::stol(t) >= V)
      throw std::invalid_argument("token id " + t + " is outside the vocabulary (0.." +
                                  std::to_string(V - 1) + ")");
    return static_cast<int32_t>(std::stol(t));
  }
  if (text.empty()) throw std::invalid_argument("no token given");
  // The piece as typed, then with the leading space most word tokens carry.
  for (const std::string& want : {text, " " + text})
    for (int32_t id = 0; id < V; ++id)
      if (piece(id) == want) return id;
  const std::vector<int32_t> ids = encode(text);
  if (ids.size() == 1) return ids[0];
  throw std::invalid_argument("'" + text + "' is not one token (it encodes to " +
                              std::to_string(ids.size()) + ")");
}

int32_t resolveToken(const rt::Session& session, const std::string& text) {
  return resolveToken(vocabularyOf(session), text);
}

int32_t AttributionStep::resolved(const AttributionModel& model, const std::string& text) {
  // A text typed once is looked up once (a piece search walks the vocabulary).
  const auto it = m_ids.find(text);
  if (it != m_ids.end()) return it->second;
  const int32_t id = resolveToken(model, text);
  if (m_ids.size() > 64) m_ids.clear();
  m_ids[text] = id;
  return id;
}

void AttributionStep::fill(Snapshot& s, rt::Session& session) {
  AttributionModel m = vocabularyOf(session);
  m.compute = [&session, &s](const rt::ana::AttributionRequest& req) {
    return rt::ana::directLogitAttribution(session.engine(), *s.trace, req);
  };
  fill(s, m);
}

void AttributionStep::fill(Snapshot& s, const AttributionModel& model) {
  const AttributionSettings& st = s.state.attribution;
  if (!s.trace || s.nTokens == 0 || !st.enabled) return;
  const rt::Trace& tr = *s.trace;
  try {
    int32_t a = -1, b = -1;
    if (trimmed(st.target).empty()) {
      const float* row = tr.logitsRow(s.token);
      a = static_cast<int32_t>(std::max_element(row, row + tr.nVocab) - row);
    } else {
      a = resolved(model, st.target);
    }
    if (!trimmed(st.other).empty()) b = resolved(model, st.other);
    if (!(m_result && m_trace == s.trace && m_position == s.token && m_a == a && m_b == b)) {
      m_result = std::make_shared<const rt::ana::Attribution>(model.compute({a, b, s.token}));
      m_trace = s.trace;
      m_position = s.token;
      m_a = a;
      m_b = b;
    }
    s.attribution = m_result;
    s.attributionTargetText = vis::tokenLabel(model.piece(a));
    if (b >= 0) s.attributionOtherText = vis::tokenLabel(model.piece(b));
  } catch (const std::invalid_argument& e) {
    s.attributionError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
