// RemoteAnalysisJob's keystroke path: the prompt run on the server with prefix reuse, the fetch of
// what the panels read, the Snapshot filled as AnalysisJob fills it, and the continuation streamed
// from the server's generation.
#ifdef LAYERLENS_HAVE_REMOTE
#include "runtime/analysis/steering.h"
#include "runtime/engine/engine.h"
#include "ui/prompt_text.h"
#include "ui/remote_analysis_job.h"
#include "visualizers/qt/token_label.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>
#include <vector>

namespace ll::ui {

namespace ana = rt::ana;

namespace {

void check(const AnalysisSource::Alive& alive) {
  if (alive && !alive()) throw rt::Cancelled();
}

// A failed call as the window shows it: which server, and that the connection is gone when it is.
[[noreturn]] void rethrow(const remote::RemoteError& e, const QString& where) {
  constexpr int kCancelled = 1, kUnavailable = 14, kDeadline = 4;  // grpc::StatusCode
  const QString what = remoteReason(e, where);
  if (e.code == kUnavailable)
    throw std::runtime_error(
        QStringLiteral("Lost the connection to the server %1 (%2); connect again with File > "
                       "Connect to server.")
            .arg(where, what)
            .toStdString());
  if (e.code == kDeadline)
    throw std::runtime_error(QStringLiteral("The server %1 did not answer in time (%2).")
                                 .arg(where, what)
                                 .toStdString());
  // Our own newer request never gets here (the worker runs one call at a time and a superseded
  // job stops on alive()): a call the server cancelled is one it dropped, usually on shutdown.
  if (e.code == kCancelled)
    throw std::runtime_error(
        QStringLiteral("The server %1 cancelled the call (%2); it may be shutting down.")
            .arg(where, what)
            .toStdString());
  throw std::runtime_error(QStringLiteral("The server %1: %2").arg(where, what).toStdString());
}

}  // namespace

void RemoteAnalysisJob::runPrompt(const std::string& text, const std::vector<int32_t>* ids,
                                  const rt::Interventions& iv, const Alive& alive,
                                  const LayerProgress& onLayer) {
  if (m_lastTrace && text == m_lastText && iv == m_lastIv) return;
  // The logit rows the server reused are the previous complete run's; after a cancelled or
  // failed run nothing is known to be reused here, so every row is read.
  const std::shared_ptr<const rt::Trace> prev = m_lastTrace;
  m_lastTrace.reset();
  if (!prev || !(iv == m_lastIv)) m_lastEntropy.clear();
  if (ids)
    m_session->setPromptIds(*ids);  // templated: its special tokens parsed, as AnalysisJob does
  else
    m_session->setPrompt(text);
  rt::RunRequest req;
  req.interventions = iv;
  remote::RemoteTrace rtr = m_session->run(req, [&](int done, int n) {
    if (onLayer) onLayer(done, n);
    return !alive || alive();
  });
  check(alive);
  rt::Trace& t = *rtr.trace;
  const int T = t.nTokens, V = t.nVocab;
  const int rows = t.allLogits ? T : 1;
  int keep = 0;
  if (prev && prev->allLogits && t.allLogits && iv == m_lastIv &&
      prev->logits.size() >= size_t(prev->nTokens) * V)
    keep = std::clamp(t.reusedRows, 0, std::min(prev->nTokens, rows - 1));
  std::vector<float> logits(size_t(rows) * V);
  if (keep > 0) std::copy_n(prev->logits.begin(), size_t(keep) * V, logits.begin());
  const std::vector<float> fresh = m_session->logitRows(rtr, keep, rows);
  if (fresh.size() != size_t(rows - keep) * V)
    throw std::runtime_error("the server sent logit rows of the wrong shape");
  std::copy(fresh.begin(), fresh.end(), logits.begin() + ptrdiff_t(keep) * V);
  t.logits = std::move(logits);
  check(alive);
  // What the head grid and token selection read (queries, keys, attention column sums) and the
  // routing of a MoE model.
  if (t.captured)
    m_session->fetch(rtr, remote::kPartQK | remote::kPartAttnStats |
                              (t.nExpert > 0 ? unsigned(remote::kPartRouting) : 0u));
  check(alive);
  if (keep == 0) m_lastEntropy.clear();
  m_last = rtr;
  m_lastTrace = rtr.trace;
  m_lastText = text;
  m_lastIv = iv;
  updateOutputEntropy(m_lastEntropy, *m_lastTrace);
}

std::shared_ptr<Snapshot> RemoteAnalysisJob::core(const ViewState& st, uint64_t generation,
                                                  const Alive& alive,
                                                  const LayerProgress& onLayer) {
  if (!loaded()) throw std::runtime_error("no model loaded");
  try {
    const auto t0 = std::chrono::steady_clock::now();
    auto snap = std::make_shared<Snapshot>();
    Snapshot& s = *snap;
    s.generation = generation;
    s.state = st;
    // The chat template as AnalysisJob writes it (the family from the server's info document).
    const bool templ = st.chatTemplate && !m_info.chatFormat.isEmpty();
    const TemplatedPrompt tp =
        templ ? applyChatTemplate(m_info.chatFormat, st.prompt) : TemplatedPrompt{st.prompt, 0};
    s.runText = tp.text;
    s.userOffset = tp.userOffset;
    s.nLayer = m_spec.nLayer;
    s.nHead = m_spec.nHead;
    s.nExpert = m_spec.nExpert;
    const rt::Encoding enc = m_session->tokenize(tp.text, -1, templ);
    if (enc.ids.empty()) return snap;  // nothing to run: the panels show an empty prompt

    rt::Interventions iv = panelInterventions(st);
    runPrompt(tp.text, templ ? &enc.ids : nullptr, iv, alive, onLayer);
    const rt::Trace& tr = *m_lastTrace;
    fillPromptView(s, m_lastTrace, enc, tp.userOffset);
    const int T = tr.nTokens;

    fillAttention(s, m_lastTrace, iv, m_attnCache, [&](int layer, int head, int rowBegin) {
      return m_session->attentionMap(m_last, layer, head, rowBegin);
    });
    fillKnockoutWarning(s, m_spec, st, T);
    check(alive);
    const auto lens = [&](const ana::LensOptions& opt) { return m_session->lens(m_last, opt); };
    const auto pieceOf = [&](int32_t id) { return piece(id); };
    fillTokenLens(s, tr, st.rankTarget, lens, pieceOf);
    s.outputEntropy = m_lastEntropy;
    check(alive);
    s.lensGrid = m_lensGrid.get(lens, m_lastTrace, pieceOf, st.lensGrid, s.token);
    check(alive);
    fillTopNext(s, tr, st.topK, pieceOf);
    fillRouting(s, tr, st.routerEdits);
    fillHeadGrid(s, m_lastTrace, iv, m_grid);
    check(alive);
    try {
      fillSelection(s, [&](const ana::SelectionRequest& req) {
        if (req.method == SelectMethod::PromptDistill)
          return promptDistillSelection(req, tr, iv, alive);
        return ana::runSelectionOnTrace(m_spec, tr, req);
      });
    } catch (const rt::Cancelled&) {
      throw;
    } catch (const remote::RemoteError&) {
      throw;
    } catch (const std::exception& e) {
      s.selectionError = QString::fromUtf8(e.what());
    }
    // Cached analyses fill in now; new server runs wait for the stream.
    if (contrastWanted(st.contrast) && m_contrastCache.answers(s)) runContrast(s, alive);
    if (st.knockout && m_knockoutCache.answers(s)) runKnockoutEffect(s, alive);
    if (st.patching.enabled && m_patchCache.answers(s)) m_patchCache.fill(s);
    s.steerLayer = st.steering.layer < 0 ? ana::defaultSteeringLayer(tr.nLayer)
                                         : std::clamp(st.steering.layer, 0, tr.nLayer - 1);
    if (st.steerRead.enabled && m_sweepCache.answers(s)) runSteerSweep(s, alive);
    // A new teacher run waits for the stream, as in AnalysisJob::core.
    if (!st.teacher.model.empty() && m_teacherCache.answers(s)) runTeacher(s, alive);
    fillAnalyses(s, alive);
    s.computeMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return snap;
  } catch (const remote::RemoteError& e) {
    rethrow(e, m_target.address());
  }
}

void RemoteAnalysisJob::stream(const Snapshot& core, const Alive& alive, const Deliver& deliver,
                               const StageProgress& progress) {
  auto cur = std::make_shared<Snapshot>(core);
  if (!cur->trace) {
    cur->complete = true;
    deliver(cur);
    return;
  }
  const auto stage = [&](StreamedOutput what, bool last,
                         const std::function<void(Snapshot&)>& fill) {
    const auto t0 = std::chrono::steady_clock::now();
    auto next = std::make_shared<Snapshot>(*cur);
    fill(*next);
    check(alive);
    next->streamed = what;
    next->complete = last;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    next->stageMs.emplace_back(outputName(what), ms);
    next->computeMs += ms;
    cur = next;
    deliver(cur);
  };
  try {
    // The model's own continuation (with the routing edits and knockout in force), on its own
    // server session so the prompt session keeps its prefix.
    std::vector<int32_t> cont;
    bool contComplete = false;
    stage(StreamedOutput::Continuation, false, [&](Snapshot& s) {
      rt::GenerateRequest g;
      g.maxTokens = std::max(0, s.state.outputTokens);
      g.interventions.router = s.state.routerEdits;
      g.interventions.knockout = s.state.knockout;
      m_gen->setPromptIds(s.trace->ids);
      const rt::Generation gen =
          m_gen->generate(g, [&](int32_t, const std::string&) { return !alive || alive(); });
      check(alive);
      s.continuation = QString::fromUtf8(gen.text);
      s.hasContinuation = true;
      cont = gen.ids;
      contComplete = gen.stoppedAtEos;
    });
    // The analyses' stages after the answers, in AnalysisJob's order (m_aux then serves the same
    // passes in the same order as the local helper session; the teacher runs on a session of its
    // own on m_aux's server session, as AnalysisJob's on m_teacher, and leaves m_aux's cache as
    // it was); the last completes the stream.
    Stages tail;
    if (core.state.steering.enabled)
      tail.emplace_back(StreamedOutput::Steering,
                        [&](Snapshot& s) { fillSteering(s, cont, contComplete, alive); });
    if (core.state.layerSkip.enabled && !core.layerSkip)
      tail.emplace_back(StreamedOutput::LayerSkip, [&](Snapshot& s) { runLayerSkip(s, alive); });
    if (contrastWanted(core.state.contrast) && !core.contrast && core.contrastError.isEmpty())
      tail.emplace_back(StreamedOutput::ExpertContrast,
                        [&](Snapshot& s) { runContrast(s, alive); });
    if (core.state.knockout && !core.knockoutEffect && core.knockoutEffectError.isEmpty())
      tail.emplace_back(StreamedOutput::KnockoutEffect,
                        [&](Snapshot& s) { runKnockoutEffect(s, alive); });
    if (core.state.steerRead.enabled && !core.steerSweep)
      tail.emplace_back(StreamedOutput::SteeringReadouts,
                        [&](Snapshot& s) { runSteerSweep(s, alive); });
    if (!core.state.teacher.model.empty() && !core.teacher)
      tail.emplace_back(StreamedOutput::Teacher, [&](Snapshot& s) { runTeacher(s, alive); });
    if (core.state.flow.enabled && !core.flow && core.flowError.isEmpty())
      tail.emplace_back(StreamedOutput::Flow, [&](Snapshot& s) { runFlow(s, alive); });
    if (core.state.patching.enabled && !m_patchCache.answers(core))
      tail.emplace_back(StreamedOutput::Patching,
                        [&](Snapshot& s) { runPatching(s, alive, progress); });
    stage(StreamedOutput::Answers, tail.empty(),
          [&](Snapshot& s) { fillAnswers(s, cont, contComplete, alive); });
    for (size_t i = 0; i < tail.size(); ++i)
      stage(tail[i].first, i + 1 == tail.size(), tail[i].second);
  } catch (const remote::RemoteError& e) {
    rethrow(e, m_target.address());
  }
}

}  // namespace ll::ui
#endif
