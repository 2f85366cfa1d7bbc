// RemoteAnalysisJob's greedy decode on a server session, and the token-selection outputs that run
// the model: PromptDistill's stages (the server's "select" analysis) and the answers from the full
// prompt and from the kept tokens, greedy generations on the server's sessions under the run's
// interventions (re-indexed onto the kept tokens, or with PromptDistill's masks), as
// AnalysisJob::fillAnswers computes them locally.
#ifdef LAYERLENS_HAVE_REMOTE
#include "runtime/analysis/distill_answer.h"
#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/selection_document.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/engine/engine.h"
#include "ui/remote_analysis_job.h"

#include <algorithm>

namespace ll::ui {

namespace ana = rt::ana;

namespace {

rt::Interventions runInterventions(const ViewState& st) {
  rt::Interventions iv = panelInterventions(st);
  return iv;
}

}  // namespace

std::vector<int32_t> RemoteAnalysisJob::greedyIds(remote::RemoteSession& r,
                                                  const std::vector<int32_t>& ids,
                                                  const rt::Interventions& iv, int n,
                                                  const Alive& alive) {
  r.setPromptIds(ids);
  rt::GenerateRequest g;
  g.maxTokens = n;
  g.interventions = iv;
  const rt::Generation gen =
      r.generate(g, [&](int32_t, const std::string&) { return !alive || alive(); });
  if (alive && !alive()) throw rt::Cancelled();
  return gen.ids;
}

ana::SelectionOutcome RemoteAnalysisJob::promptDistillSelection(const ana::SelectionRequest& req,
                                                                const rt::Trace& tr,
                                                                const rt::Interventions& iv,
                                                                const Alive& alive) {
  ana::SelectCall call;
  call.selection = req;
  m_aux->setPromptIds(tr.ids);
  const std::string doc = analyzeAux("select", ana::analysisRequestJson(call), iv, alive);
  return ana::parsePromptDistillDocument(doc, req, tr.nTokens, m_spec);
}

void RemoteAnalysisJob::fillAnswers(Snapshot& s, const std::vector<int32_t>& cont,
                                    bool contComplete, const Alive& alive) {
  s.hasAnswers = true;
  if (!s.selectionError.isEmpty() || s.kept.empty()) return;
  const rt::Trace& tr = *s.trace;
  const int T = static_cast<int>(tr.ids.size());
  try {
    const int n = std::max(1, s.state.selection.answerTokens);
    const rt::Interventions iv = runInterventions(s.state);
    const auto greedyOn = [&](remote::RemoteSession& r, const std::vector<int32_t>& ids,
                              const rt::Interventions& x) {
      return greedyIds(r, ids, x, n, alive);
    };
    ana::Answers a;
    if (s.state.selection.method == SelectMethod::PromptDistill) {
      // The continuation: each stage's dropped tokens invisible after its own layer.
      a.full = greedyOn(*m_aux, tr.ids, iv);
      a.compressed = greedyOn(*m_aux, tr.ids,
                              ana::distilledInterventions(iv, T, s.stageLayers, s.keptPerStage,
                                                          s.state.selection.kvTrim, m_spec.nLayer));
    } else {
      // The full prompt's answer is the continuation's prefix (same interventions) or decoded on
      // the generation session, whose cache holds the prompt; the kept tokens re-indexed on aux.
      if (static_cast<int>(cont.size()) >= n || contComplete)
        a.full.assign(cont.begin(), cont.begin() + std::min<size_t>(size_t(n), cont.size()));
      else
        a.full = greedyOn(*m_gen, tr.ids, iv);
      std::vector<int32_t> sub;
      for (int i : s.kept) sub.push_back(tr.ids.at(static_cast<size_t>(i)));
      for (const auto& w : ana::subsetWarnings(m_spec, s.kept, false))
        s.selectionWarnings << QString::fromStdString(w);
      a.compressed = greedyOn(*m_aux, sub, ana::reindexedInterventions(iv, s.kept, T));
    }
    s.answerFull = QString::fromUtf8(m_aux->decode(a.full));
    s.answerKept = QString::fromUtf8(m_aux->decode(a.compressed));
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const remote::RemoteError&) {
    throw;
  } catch (const std::exception& e) {
    s.selectionError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
#endif
