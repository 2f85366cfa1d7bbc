// Resolution and running of a SelectionRequest (selection_request.h): the one place where the
// methods' defaults are decided and the runtime functions of token_selection.h / selection_runs.h
// are called with them.
#include "runtime/analysis/selection_request.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "runtime/analysis/selection_reasons.h"
#include "runtime/api/session.h"

namespace ll::rt::ana {

const char* selectionMethodKey(SelectionMethod m) {
  switch (m) {
    case SelectionMethod::GemFilter:
      return "gemfilter";
    case SelectionMethod::SnapKv:
      return "snapkv";
    case SelectionMethod::H2O:
      return "h2o";
    case SelectionMethod::PromptDistill:
      return "promptdistill";
  }
  return "";
}

std::optional<SelectionMethod> parseSelectionMethod(const std::string& name) {
  std::string n;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)))
      n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto m : {SelectionMethod::GemFilter, SelectionMethod::SnapKv, SelectionMethod::H2O,
                 SelectionMethod::PromptDistill})
    if (n == selectionMethodKey(m)) return m;
  return std::nullopt;
}

const std::vector<SelectionIntParam>& selectionIntParams() {
  static const std::vector<SelectionIntParam> kParams = {
      {"layer", "Layer", &SelectionRequest::layer, 0, 1 << 20,
       "selection layer (GemFilter r, PromptDistill l)",
       "floor(13 L / 32), as 13 of 32 in ALGORITHMS.md sec. 2 and 5"},
      {"k", "Keep k", &SelectionRequest::k, 1, 1 << 24,
       "tokens kept (SnapKV: capacity C; H2O: heavy + recent; clamped to the prompt)", nullptr},
      {"window", "Window W", &SelectionRequest::window, 1, 1 << 24, "SnapKV observation window W",
       "clamp(k/4, 1, 32)"},
      {"recent", "Recent r", &SelectionRequest::recent, 0, 1 << 24,
       "H2O recent tokens r (heavy = k - r)", "clamp(k/2, 1, 32)"},
      {"kernel", "Pooling kernel", &SelectionRequest::kernel, 1, 255,
       "average pooling kernel (1 = none)", nullptr},
      {"kv-trim", "KV trim", &SelectionRequest::kvTrim, -1, 1 << 20,
       "PromptDistill: stages whose dropped tokens also leave the earlier layers' KV cache for "
       "generated tokens (0 none, -1 all, n the first n)",
       nullptr},
  };
  return kParams;
}

bool selectionParamUsed(const SelectionIntParam& p, SelectionMethod method) {
  if (p.field == &SelectionRequest::window) return method == SelectionMethod::SnapKv;
  if (p.field == &SelectionRequest::recent) return method == SelectionMethod::H2O;
  if (p.field == &SelectionRequest::kernel) return method != SelectionMethod::H2O;
  if (p.field == &SelectionRequest::kvTrim) return method == SelectionMethod::PromptDistill;
  return true;
}

std::string selectionParamHelp(const SelectionIntParam& p) {
  const int def = SelectionRequest{}.*p.field;
  return std::string(p.help) + " (default: " +
         (def == kAuto && p.autoRule ? std::string("auto = ") + p.autoRule : std::to_string(def)) +
         ")";
}

int defaultSelectionLayer(int nLayer) {
  return std::clamp(13 * nLayer / 32, 0, std::max(0, nLayer - 1));
}
int defaultSnapKvWindow(int k) {
  return std::clamp(k / 4, 1, 32);
}
int defaultH2oRecent(int k) {
  return std::clamp(k / 2, 1, 32);
}

namespace {

void checkRange(const SelectionIntParam& p, int v, int max) {
  if ((v == kAuto && p.autoRule) || (v >= p.min && v <= max)) return;
  throw std::invalid_argument("selection: " + std::string(p.name) + " " + std::to_string(v) +
                              " is outside " + std::to_string(p.min) + ".." + std::to_string(max) +
                              (p.autoRule ? " (or -1 = auto)" : ""));
}

std::vector<float> meanOverHeads(const std::vector<std::vector<float>>& perHead, int T) {
  std::vector<float> out(static_cast<size_t>(T), 0.0f);
  for (const auto& h : perHead)
    for (size_t t = 0; t < h.size() && t < out.size(); ++t)
      out[t] += h[t] / static_cast<float>(perHead.size());
  return out;
}

}  // namespace

SelectionParams resolveSelection(const SelectionRequest& req, int nTokens, int nLayer) {
  if (nTokens < 1) throw std::invalid_argument("selection: the prompt has no tokens");
  for (const auto& p : selectionIntParams())
    checkRange(p, req.*p.field, p.field == &SelectionRequest::layer ? nLayer - 1 : p.max);
  SelectionParams r;
  r.method = req.method;
  r.layer = req.layer == kAuto ? defaultSelectionLayer(nLayer) : req.layer;
  r.k = std::clamp(req.k, 1, nTokens);  // §2: k = min(1024, T)
  r.window = std::min(req.window == kAuto ? defaultSnapKvWindow(r.k) : req.window, nTokens);
  r.capacity = std::max(r.k, r.window);  // the window always fits the budget
  r.recent = std::min(req.recent == kAuto ? defaultH2oRecent(r.k) : req.recent, nTokens);
  r.heavy = std::max(0, r.k - r.recent);
  r.kernel = req.kernel;
  r.maxPool = req.maxPool;
  r.kvTrim = req.kvTrim;
  if (r.method == SelectionMethod::PromptDistill) {
    r.stages =
        req.stages.empty() ? std::vector<DistillStage>{{r.layer, r.k}} : parseStages(req.stages);
    for (const auto& st : r.stages)
      if (st.layer >= nLayer || st.k < 1)
        throw std::invalid_argument("PromptDistill stage " + std::to_string(st.layer) + ":" +
                                    std::to_string(st.k) + " is outside the model's " +
                                    std::to_string(nLayer) + " layers or keeps no token");
  }
  return r;
}

std::map<std::string, std::string> SelectionParams::record() const {
  std::map<std::string, std::string> m = {{"layer", std::to_string(layer)},
                                          {"k", std::to_string(k)},
                                          {"kernel", std::to_string(kernel)}};
  switch (method) {
    case SelectionMethod::GemFilter:
      break;
    case SelectionMethod::SnapKv:
      m["window"] = std::to_string(window);
      m["capacity"] = std::to_string(capacity);
      if (maxPool) m["pooling"] = "max";
      break;
    case SelectionMethod::H2O:
      m["recent"] = std::to_string(recent);
      m["heavy"] = std::to_string(heavy);
      m.erase("kernel");  // H2O does not pool
      break;
    case SelectionMethod::PromptDistill: {
      std::string s;
      for (const auto& st : stages)
        s += (s.empty() ? "" : ",") + std::to_string(st.layer) + ":" + std::to_string(st.k);
      m["stages"] = s;
      m["kv_trim"] = std::to_string(kvTrim);
      break;
    }
  }
  return m;
}

SelectionOutcome runSelectionOnTrace(const ModelSpec& spec, const Trace& tr,
                                     const SelectionRequest& req) {
  const int T = tr.nTokens;
  SelectionOutcome o;
  o.params = resolveSelection(req, T, spec.nLayer);
  const SelectionParams& p = o.params;
  const auto warn = [&](SelectionMethod m, int layer, int obs = 1) {
    const auto w = selectionWarnings(spec, m, layer, T, obs);
    o.warnings.insert(o.warnings.end(), w.begin(), w.end());
  };
  switch (p.method) {
    case SelectionMethod::GemFilter:
      warn(p.method, p.layer);
      o.selection = gemFilter(qkView(tr, p.layer, T - 1), p.k, p.kernel);
      o.tokenScores = o.selection.scores;
      break;
    case SelectionMethod::SnapKv:
      warn(p.method, p.layer, p.window);
      o.selection = snapKv(attnRows(tr, p.layer, T - p.window), T, tr.nHead, p.capacity, p.window,
                           p.kernel, p.maxPool);
      o.tokenScores = meanOverHeads(o.selection.scoresPerHead, T);
      o.reason = snapKvKeepReason(o.selection, p.k, T, p.capacity, p.window);
      break;
    case SelectionMethod::H2O:
      warn(p.method, p.layer);
      o.selection =
          h2o(tr.layers[static_cast<size_t>(p.layer)].colSum, T, tr.nHead, p.heavy, p.recent);
      o.tokenScores = meanOverHeads(o.selection.scoresPerHead, T);
      o.reason = h2oKeepReason(o.selection, p.k, T, p.heavy, p.recent);
      break;
    case SelectionMethod::PromptDistill:
      throw std::invalid_argument("PromptDistill re-runs the prompt: it needs a session");
  }
  o.tokenScores.resize(static_cast<size_t>(T), 0.0f);
  return o;
}

SelectionOutcome runSelection(Session& s, const Trace* tr, const SelectionRequest& req) {
  const ModelSpec& spec = s.model().spec;
  // The methods that read a trace: a pass of the prompt where none is given.
  if (req.method == SelectionMethod::SnapKv || req.method == SelectionMethod::H2O) {
    std::shared_ptr<const Trace> owned;
    if (!tr) tr = (owned = s.run()).get();
    return runSelectionOnTrace(spec, *tr, req);
  }
  if (req.method == SelectionMethod::GemFilter && tr) return runSelectionOnTrace(spec, *tr, req);
  const int T = tr ? tr->nTokens : static_cast<int>(s.promptIds().size());
  SelectionOutcome o;
  o.params = resolveSelection(req, T, spec.nLayer);
  const SelectionParams& p = o.params;
  const auto warn = [&](SelectionMethod m, int layer, int obs = 1) {
    const auto w = selectionWarnings(spec, m, layer, T, obs);
    o.warnings.insert(o.warnings.end(), w.begin(), w.end());
  };
  if (p.method == SelectionMethod::GemFilter) {
    warn(p.method, p.layer);
    // Without a trace: a pass that stops after the selection layer (§2.1).
    o.selection = gemFilterSelect(s, p.layer, p.k, p.kernel);
    o.tokenScores = o.selection.scores;
  } else {
    for (const auto& st : p.stages) warn(p.method, st.layer);
    // Under the trace's interventions, as the other methods read them from the trace.
    o.distill =
        promptDistill(s, p.stages, p.kernel, -1, tr ? tr->request.interventions : Interventions{});
    o.selection.kept = o.distill.keptPerStage.back();
    o.selection.scores = o.distill.scoresPerStage.back();
    // Stage 1 scores every prompt position; later stages only their candidates.
    if (!o.distill.scoresPerStage.empty()) o.tokenScores = o.distill.scoresPerStage.front();
    // The kept set is the last stage's top k (plus the last token): that stage's k is the k.
    o.reason = promptDistillKeepReason(p.stages, o.distill.keptPerStage, p.stages.back().k);
  }
  o.tokenScores.resize(static_cast<size_t>(T), 0.0f);
  return o;
}

}  // namespace ll::rt::ana
