// AnalysisJob's generation-based outputs, streamed after the analysis panels' snapshot: the
// model's continuation, the answer from the kept tokens beside the full answer, the steered /
// unsteered continuations, and the layer-skip passes (analysis_layer_skip.cpp). Each decode step
// polls `alive` between layers, so a keystroke that arrives meanwhile cancels the stream within one
// layer and its panels never wait for it.
#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/stats.h"
#include "runtime/analysis/steering.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/analysis_job.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

namespace ll::ui {

namespace ana = rt::ana;

QString outputName(StreamedOutput o) {
  switch (o) {
    case StreamedOutput::None:
      return QStringLiteral("analysis panels");
    case StreamedOutput::Continuation:
      return QStringLiteral("continuation");
    case StreamedOutput::Answers:
      return QStringLiteral("answer from kept tokens");
    case StreamedOutput::Steering:
      return QStringLiteral("steering continuations");
    case StreamedOutput::LayerSkip:
      return QStringLiteral("layer skip");
    case StreamedOutput::ExpertContrast:
      return QStringLiteral("expert contrast");
    case StreamedOutput::KnockoutEffect:
      return QStringLiteral("knockout effect");
    case StreamedOutput::SteeringReadouts:
      return QStringLiteral("steering readouts");
    case StreamedOutput::Teacher:
      return QStringLiteral("teacher");
    case StreamedOutput::Flow:
      return QStringLiteral("flow routes");
    case StreamedOutput::Patching:
      return QStringLiteral("activation patching");
  }
  return {};
}

namespace {

void check(const AnalysisJob::Alive& alive) {
  if (alive && !alive()) throw rt::Cancelled();
}

// ana::greedy, cancellable between layers: argmax (lowest id on ties) of each step's last row.
std::vector<int32_t> greedy(rt::Session& s, std::vector<int32_t> ids,
                            std::vector<int32_t> positions,
                            const std::function<rt::Interventions(int)>& interventionsFor,
                            int maxTokens, const AnalysisJob::Alive& alive) {
  const rt::Model& m = s.model();
  const int32_t eos = m.tokenizer ? m.tokenizer->eos() : -1;
  const auto progress = [&](int, int) { return !alive || alive(); };
  std::vector<int32_t> out;
  for (int i = 0; i < maxTokens; ++i) {
    auto tr = s.engine().run(ids, positions, interventionsFor(static_cast<int>(ids.size())),
                             rt::CaptureOptions{false, false}, progress, false);
    const int32_t tok = ana::rowStats(tr->logits.data(), tr->nVocab, 1).topIds[0];
    out.push_back(tok);
    if (tok == eos) break;
    if (m.spec.nCtx > 0 && static_cast<int>(ids.size()) >= m.spec.nCtx) break;
    ids.push_back(tok);
    positions.push_back(positions.back() + 1);
  }
  return out;
}

std::vector<int32_t> iota(size_t n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// The first n tokens of a greedy continuation under the same interventions are a prefix of a
// longer one: no need to decode them again.
std::optional<std::vector<int32_t>> prefixOf(const std::vector<int32_t>& cont, bool complete,
                                             int n) {
  if (static_cast<int>(cont.size()) < n && !complete) return std::nullopt;
  return std::vector<int32_t>(cont.begin(), cont.begin() + std::min<size_t>(n, cont.size()));
}

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void AnalysisJob::stream(const Snapshot& core, const Alive& alive, const Deliver& deliver,
                         const StageProgress& progress) {
  auto cur = std::make_shared<Snapshot>(core);
  if (!cur->trace) {
    cur->complete = true;
    deliver(cur);
    return;
  }
  const rt::Trace& tr = *cur->trace;
  rt::Interventions iv = panelInterventions(core.state);
  const bool steering = core.state.steering.enabled;
  const bool skip = core.state.layerSkip.enabled && !core.layerSkip;
  const bool contrast =
      contrastWanted(core.state.contrast) && !core.contrast && core.contrastError.isEmpty();
  const bool knockout =
      core.state.knockout && !core.knockoutEffect && core.knockoutEffectError.isEmpty();
  const bool sweep = core.state.steerRead.enabled && !core.steerSweep;
  const bool teach = !core.state.teacher.model.empty() && !core.teacher;
  const bool flow = core.state.flow.enabled && !core.flow && core.flowError.isEmpty();
  const bool patch = core.state.patching.enabled && !m_patchCache.answers(core);

  // One stage: a copy of the last snapshot with this output filled in, handed out at once.
  auto stage = [&](StreamedOutput what, bool last, const std::function<void(Snapshot&)>& fill) {
    const auto t0 = std::chrono::steady_clock::now();
    auto next = std::make_shared<Snapshot>(*cur);
    fill(*next);
    check(alive);
    next->streamed = what;
    next->complete = last;
    const double ms = msSince(t0);
    next->stageMs.emplace_back(outputName(what), ms);
    next->computeMs += ms;
    cur = next;
    deliver(cur);
  };

  // The model's own continuation (with the routing edits in force).
  std::vector<int32_t> cont;
  bool contComplete = false;
  stage(StreamedOutput::Continuation, false, [&](Snapshot& s) {
    rt::GenerateRequest g;
    g.maxTokens = std::max(0, s.state.outputTokens);
    g.interventions = iv;
    m_gen->setPromptIds(tr.ids);
    const rt::Generation gen = m_gen->generate(g, {}, [&](int, int) { return !alive || alive(); });
    s.continuation = QString::fromUtf8(gen.text);
    s.hasContinuation = true;
    cont = gen.ids;
    contComplete = gen.stoppedAtEos;
  });
  // The stages after the answers, in order; the last one completes the stream.
  std::vector<std::pair<StreamedOutput, std::function<void(Snapshot&)>>> tail;
  if (steering)
    tail.emplace_back(StreamedOutput::Steering,
                      [&](Snapshot& s) { fillSteering(s, cont, contComplete, alive); });
  if (skip)
    tail.emplace_back(StreamedOutput::LayerSkip, [&](Snapshot& s) { runLayerSkip(s, alive); });
  if (contrast)
    tail.emplace_back(StreamedOutput::ExpertContrast, [&](Snapshot& s) { runContrast(s, alive); });
  if (knockout)
    tail.emplace_back(StreamedOutput::KnockoutEffect,
                      [&](Snapshot& s) { runKnockoutEffect(s, alive); });
  if (sweep)
    tail.emplace_back(StreamedOutput::SteeringReadouts,
                      [&](Snapshot& s) { runSteerSweep(s, alive); });
  if (teach) tail.emplace_back(StreamedOutput::Teacher, [&](Snapshot& s) { runTeacher(s, alive); });
  if (flow) tail.emplace_back(StreamedOutput::Flow, [&](Snapshot& s) { runFlow(s, alive); });
  if (patch)
    tail.emplace_back(StreamedOutput::Patching,
                      [&](Snapshot& s) { runPatching(s, alive, progress); });
  stage(StreamedOutput::Answers, tail.empty(),
        [&](Snapshot& s) { fillAnswers(s, cont, contComplete, alive); });
  for (size_t i = 0; i < tail.size(); ++i)
    stage(tail[i].first, i + 1 == tail.size(), tail[i].second);
}

void AnalysisJob::fillAnswers(Snapshot& s, const std::vector<int32_t>& cont, bool contComplete,
                              const Alive& alive) {
  s.hasAnswers = true;
  if (!s.selectionError.isEmpty() || s.kept.empty()) return;
  const rt::Trace& tr = *s.trace;
  const rt::Model& m = m_session->model();
  try {
    const int n = std::max(1, s.state.selection.answerTokens);
    ana::Answers a;
    if (s.state.selection.method == SelectMethod::PromptDistill) {
      // The continuation: each stage's dropped tokens invisible after its own layer, under the
      // prompt run's interventions (router edits, knockout), as the full answer.
      m_aux->setPromptIds(tr.ids);
      a = ana::answerDistilled(*m_aux, s.stageLayers, s.keptPerStage, s.state.selection.kvTrim, n,
                               tr.request.interventions);
    } else {
      // As ana::answerReindexed under the prompt run's interventions (router edits, knockout):
      // the full prompt's answer is the continuation's prefix (it ran under the same ones) or is
      // decoded on the generation session, whose cache holds the prompt; the kept tokens run
      // re-indexed on the aux session, the interventions carried onto their new indices.
      const rt::Interventions& iv = tr.request.interventions;
      const std::optional<std::vector<int32_t>> full = prefixOf(cont, contComplete, n);
      a.full = full ? *full
                    : greedy(
                          *m_gen, tr.ids, iota(tr.ids.size()), [&](int) { return iv; }, n, alive);
      check(alive);
      std::vector<int32_t> sub;
      for (int i : s.kept) sub.push_back(tr.ids.at(static_cast<size_t>(i)));
      for (const auto& w : ana::subsetWarnings(m.spec, s.kept, false))
        s.selectionWarnings << QString::fromStdString(w);
      const rt::Interventions onKept =
          ana::reindexedInterventions(iv, s.kept, static_cast<int>(tr.ids.size()));
      a.compressed = greedy(
          *m_aux, sub, iota(sub.size()), [&](int) { return onKept; }, n, alive);
    }
    s.answerFull = QString::fromUtf8(m.tokenizer->decode(a.full));
    s.answerKept = QString::fromUtf8(m.tokenizer->decode(a.compressed));
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    s.selectionError = QString::fromUtf8(e.what());
  }
}

void AnalysisJob::fillSteering(Snapshot& s, const std::vector<int32_t>& cont, bool contComplete,
                               const Alive& alive) {
  s.hasSteering = true;
  const rt::Trace& tr = *s.trace;
  const rt::Model& m = m_session->model();
  const SteeringSettings& st = s.state.steering;
  s.steerLayer =
      st.layer < 0 ? ana::defaultSteeringLayer(tr.nLayer) : std::clamp(st.layer, 0, tr.nLayer - 1);
  rt::Interventions iv = panelInterventions(s.state);
  try {
    const std::vector<float> v = steeringVector(st, s.steerLayer);
    check(alive);
    s.pushRatio = ana::pushRatio(tr, s.steerLayer, v, st.alpha);
    rt::Steering steer{s.steerLayer, st.alpha, std::max(0, st.fromPos), v};
    const auto pos = iota(tr.ids.size());
    const auto cached = prefixOf(cont, contComplete, st.genTokens);
    const auto plain = cached
                           ? *cached
                           : greedy(
                                 *m_gen, tr.ids, pos, [&](int) { return iv; }, st.genTokens, alive);
    check(alive);
    const auto steered = greedy(
        *m_steer, tr.ids, pos,
        [&](int) {
          rt::Interventions x = iv;
          x.steering.push_back(steer);
          return x;
        },
        st.genTokens, alive);
    s.unsteered = QString::fromUtf8(m.tokenizer->decode(plain));
    s.steered = QString::fromUtf8(m.tokenizer->decode(steered));
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    s.steeringError = QString::fromUtf8(e.what());
  }
}

}  // namespace ll::ui
