#include "ui/analysis_job.h"

#include "runtime/analysis/attention_stats.h"
#include "runtime/analysis/induction_card.h"
#include "runtime/analysis/latent_language.h"
#include "runtime/analysis/lens.h"
#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/analysis/run_helpers.h"
#include "runtime/analysis/selection_request.h"
#include "runtime/analysis/selection_runs.h"
#include "runtime/analysis/stats.h"
#include "runtime/analysis/steering.h"
#include "runtime/analysis/token_selection.h"
#include "runtime/api/session.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"
#include "ui/head_grid_rows.h"
#include "ui/prompt_text.h"
#include "ui/snapshot_fill.h"
#include "ui/steering_inputs.h"
#include "visualizers/qt/token_label.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>

namespace ll::ui {

namespace ana = rt::ana;

namespace {

// Appends the milliseconds since the last mark to the snapshot's stage timings.
class StageClock {
 public:
  explicit StageClock(Snapshot& s) : m_s(s), m_t(std::chrono::steady_clock::now()) {}
  void mark(const char* name) {
    const auto now = std::chrono::steady_clock::now();
    m_s.stageMs.emplace_back(QString::fromLatin1(name),
                             std::chrono::duration<double, std::milli>(now - m_t).count());
    m_t = now;
  }

 private:
  Snapshot& m_s;
  std::chrono::steady_clock::time_point m_t;
};

void check(const AnalysisJob::Alive& alive) {
  if (alive && !alive()) throw rt::Cancelled();
}

QString quantSummary(const std::map<std::string, int>& counts) {
  QStringList parts;
  for (const auto& [type, n] : counts)
    parts << QStringLiteral("%1 x%2").arg(QString::fromStdString(type)).arg(n);
  return parts.join(QStringLiteral(", "));
}

}  // namespace

AnalysisJob::AnalysisJob() = default;
AnalysisJob::~AnalysisJob() = default;

bool AnalysisJob::loaded() const {
  return m_session && m_session->loaded();
}

ModelInfo AnalysisJob::load(const std::string& path, const rt::BackendChoice& backend,
                            const std::function<bool(float, const std::string&)>& progress) {
  auto s = std::make_unique<rt::Session>();
  s->load(path, backend, progress);
  m_backend = std::make_unique<rt::BackendChoice>(backend);
  const rt::Model& m = s->model();
  const rt::ModelSpec& sp = m.spec;
  ModelInfo info;
  info.path = QString::fromStdString(path);
  info.name = QString::fromStdString(sp.name.empty() ? m.path.filename().string() : sp.name);
  info.format = QString::fromStdString(m.format);
  info.arch = QString::fromStdString(sp.arch);
  info.nLayer = sp.nLayer;
  info.nEmbd = sp.nEmbd;
  info.nHead = sp.nHead;
  info.nHeadKv = sp.nHeadKv;
  info.headDim = sp.headDim;
  info.nFf = sp.nFf;
  info.nCtx = sp.nCtx;
  info.nVocab = sp.nVocab;
  info.nExpert = sp.nExpert;
  info.nExpertUsed = sp.nExpertUsed;
  info.nFfExpert = sp.nFfExpert;
  info.fileBytes = m.fileBytes;
  info.quantization = quantSummary(sp.tensorTypeCounts);
  info.hasTemplate = !m.chatTemplate.empty();
  info.chatFormat = chatFamily(m.chatTemplate);
  info.backend = QString::fromStdString(s->backendName());
  {
    QStringList f;
    const std::string wl = ana::windowedLayersText(sp);
    if (!wl.empty()) f << QStringLiteral("sliding window on %1").arg(QString::fromStdString(wl));
    if (sp.attnSoftcap > 0)
      f << QStringLiteral("attention soft-cap %1").arg(double(sp.attnSoftcap));
    if (sp.finalSoftcap > 0) f << QStringLiteral("final soft-cap %1").arg(double(sp.finalSoftcap));
    if (sp.attnSinks) f << QStringLiteral("attention sinks");
    info.attentionFeatures = f.join(QStringLiteral("; "));
  }
  auto gen = std::make_unique<rt::Session>();
  gen->attachSharing(*s);  // one copy of the weights (matters on a GPU)
  auto aux = std::make_unique<rt::Session>();
  aux->attachSharing(*s);  // one copy of the weights (matters on a GPU)
  auto steer = std::make_unique<rt::Session>();
  steer->attachSharing(*s);  // one copy of the weights (matters on a GPU)
  // Induction scores per head on [BOS, x, x] (ALGORITHMS.md §1): a property of the model, so
  // computed once here rather than per keystroke, on a throwaway session so the helper sessions
  // start from an empty cache (as a remote job's do on the server, where the same holds).
  if (m.tokenizer) {
    rt::Session probe;
    probe.attachSharing(*s);
    const ana::InductionCard card = ana::inductionCard(
        sp, m.tokenizer->bos(),
        [&](const std::vector<int32_t>& ids) { return ana::runIds(probe, ids); });
    info.induction = card.scores;
    info.inductionN = card.n;
    info.inductionNote = QString::fromStdString(card.note);
  }
  m_session = std::move(s);
  m_gen = std::move(gen);
  m_aux = std::move(aux);
  m_steer = std::move(steer);
  m_projector = std::make_unique<ana::LensProjector>(m_session->engine());
  m_info = info;
  m_steerCache.clear();
  m_lastTrace.reset();
  m_lastEntropy.clear();
  m_lastText.clear();
  m_grid = {};
  m_lensGrid.clear();
  m_attnCache = {};
  m_attribution.clear();
  m_skipCache = {};
  m_contrastCache = {};
  m_knockoutCache = {};
  m_flowCache = {};
  m_patchCache = {};
  return info;
}

std::shared_ptr<Snapshot> AnalysisJob::core(const ViewState& st, uint64_t generation,
                                            const Alive& alive, const LayerProgress& onLayer) {
  if (!loaded()) throw std::runtime_error("no model loaded");
  const auto t0 = std::chrono::steady_clock::now();
  auto snap = std::make_shared<Snapshot>();
  Snapshot& s = *snap;
  s.generation = generation;
  s.state = st;
  const rt::Model& m = m_session->model();
  if (!m.tokenizer) throw std::runtime_error("the model has no tokenizer");
  const bool templ = st.chatTemplate && !m_info.chatFormat.isEmpty();
  const TemplatedPrompt tp =
      templ ? applyChatTemplate(m_info.chatFormat, st.prompt) : TemplatedPrompt{st.prompt, 0};
  s.runText = tp.text;
  s.userOffset = tp.userOffset;
  const rt::Encoding enc = m.tokenizer->encode(tp.text, -1, templ);
  s.nLayer = m.spec.nLayer;
  s.nHead = m.spec.nHead;
  s.nExpert = m.spec.nExpert;
  if (enc.ids.empty()) return snap;  // nothing to run: the panels show an empty prompt
  StageClock clock(s);

  rt::Interventions iv = panelInterventions(st);
  if (!m_lastTrace || tp.text != m_lastText || !(iv == m_lastIv)) {
    m_lastTrace.reset();
    if (!(iv == m_lastIv)) m_lastEntropy.clear();
    if (templ)
      m_session->setPromptIds(enc.ids);
    else
      m_session->setPrompt(tp.text);
    rt::RunRequest req;
    req.interventions = iv;
    m_lastTrace = m_session->run(req, [&](int done, int n) {
      if (onLayer) onLayer(done, n);
      return !alive || alive();
    });
    m_lastText = tp.text;
    m_lastIv = iv;
    updateOutputEntropy(m_lastEntropy, *m_lastTrace);
  }
  clock.mark("forward pass");
  const rt::Trace& tr = *m_lastTrace;
  fillPromptView(s, m_lastTrace, enc, tp.userOffset);
  const int T = tr.nTokens;

  // Attention map of the selected layer / head (the sum is nHead x the mean).
  fillAttention(s, m_lastTrace, iv, m_attnCache, [&](int layer, int head, int rowBegin) {
    return m_session->attentionMap(tr, layer, head, rowBegin);
  });
  fillKnockoutWarning(s, m.spec, st, T);
  clock.mark("attention map");
  check(alive);

  // Logit lens of the selected token and the rank of the followed token across layers.
  fillTokenLens(
      s, tr, st.rankTarget,
      [&](const ana::LensOptions& opt) { return ana::logitLens(*m_projector, tr, opt); },
      [&](int32_t id) { return m.tokenizer->piece(id); });
  s.outputEntropy = m_lastEntropy;
  clock.mark("logit lens");
  check(alive);
  // The lens grid: a bounded window of columns (LensGrid::kMaxColumns, fewer on large models).
  s.lensGrid = m_lensGrid.get(
      *m_projector, m_lastTrace, [&](int32_t id) { return m.tokenizer->piece(id); }, st.lensGrid,
      s.token);
  clock.mark("lens grid");
  check(alive);
  // Latent-language plot: L + 1 lens rows of the last token, one LM-head product.
  if (!st.latent.wordA.empty() && !st.latent.wordB.empty()) {
    try {
      rt::ana::LatentLanguageRequest rq;
      rq.wordA = st.latent.wordA;
      rq.wordB = st.latent.wordB;
      s.latent = std::make_shared<const rt::ana::LatentLanguageResult>(
          rt::ana::latentLanguage(*m_projector, tr, *m.tokenizer, rq));
      for (int32_t id : s.latent->tokensA)
        s.latentTokensA << vis::tokenLabel(m.tokenizer->piece(id));
      for (int32_t id : s.latent->tokensB)
        s.latentTokensB << vis::tokenLabel(m.tokenizer->piece(id));
    } catch (const std::invalid_argument& e) {
      s.latentError = QString::fromUtf8(e.what());
    }
  }
  clock.mark("latent language");
  check(alive);
  m_attribution.fill(s, *m_session);
  clock.mark("attribution");
  check(alive);

  // Top-k next tokens after the last prompt token.
  fillTopNext(s, tr, st.topK, [&](int32_t id) { return m.tokenizer->piece(id); });

  clock.mark("top-k");
  // Routing [L, T, E] and expert load.
  fillRouting(s, tr, st.routerEdits);
  check(alive);

  clock.mark("routing");
  // Head grid on the last G tokens.
  fillHeadGrid(s, m_lastTrace, iv, m_grid);
  clock.mark("head grid");
  check(alive);
  try {
    runSelection(s, alive);
  } catch (const rt::Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    s.selectionError = QString::fromUtf8(e.what());
  }
  clock.mark("token selection");
  if (st.layerSkip.enabled && layerSkipCached(s)) {  // new passes wait for the stream
    runLayerSkip(s, alive);
    clock.mark("layer skip");
  }
  if (contrastWanted(st.contrast) &&
      m_contrastCache.answers(s)) {  // new passes wait for the stream
    runContrast(s, alive);
    clock.mark("expert contrast");
  }
  if (st.knockout && m_knockoutCache.answers(s)) {  // new passes wait for the stream
    runKnockoutEffect(s, alive);
    clock.mark("knockout effect");
  }
  if (st.flow.enabled && m_flowCache.answers(s)) {  // a new graph waits for the stream
    runFlow(s, alive);
    clock.mark("flow routes");
  }
  if (st.patching.enabled && m_patchCache.answers(s)) m_patchCache.fill(s);  // new sweeps: stream
  const SteeringSettings& steer = st.steering;
  s.steerLayer = steer.layer < 0 ? ana::defaultSteeringLayer(tr.nLayer)
                                 : std::clamp(steer.layer, 0, tr.nLayer - 1);
  if (st.steerRead.enabled && m_sweepCache.answers(s)) {  // new passes wait for the stream
    runSteerSweep(s, alive);
    clock.mark("steering readouts");
  }
  if (!st.teacher.model.empty() &&
      m_teacherCache.answers(s)) {  // a new teacher run waits for the stream
    runTeacher(s, alive);
    clock.mark("teacher");
  }
  s.computeMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return snap;
}

AnalysisSource::ExportReads AnalysisJob::exportReads(const std::shared_ptr<const rt::Trace>& trace,
                                                     bool) {
  if (!trace) throw std::runtime_error("nothing to export yet");
  rt::Session* session = m_aux.get();
  return {trace, [session, trace](int l, int h) { return session->attentionMap(*trace, l, h); }};
}

void AnalysisJob::runSelection(Snapshot& s, const Alive& alive) {
  const rt::Trace& tr = *s.trace;
  // PromptDistill re-runs the prompt with its stages' masks on the aux session; the other methods
  // read the trace.
  fillSelection(s, [&](const ana::SelectionRequest& req) {
    if (req.method == SelectMethod::PromptDistill) m_aux->setPromptIds(tr.ids);
    const ana::SelectionOutcome out = ana::runSelection(*m_aux, &tr, req);
    check(alive);
    return out;
  });
}

std::vector<float> AnalysisJob::steeringVector(const SteeringSettings& st, int layer) {
  if (st.source == SteerSource::Saved)
    return savedSteeringVector(st, m_session->model().spec.nEmbd);
  const std::string key = steeringVectorKey(st, layer);
  if (auto it = m_steerCache.find(key); it != m_steerCache.end()) return it->second;
  checkSteeringInputs(st);
  std::vector<float> v;
  const std::string tmpl = kConceptTemplate;
  if (st.source == SteerSource::Concept) {
    ana::ConceptInput in;
    in.word = ana::tokenize(*m_aux, ana::fillTemplate(tmpl, st.conceptWord));
    for (const auto& b : st.baselines)
      in.baselines.push_back(ana::tokenize(*m_aux, ana::fillTemplate(tmpl, b)));
    v = ana::conceptVector(*m_aux, layer, in);
  } else {
    std::vector<std::vector<int32_t>> pos, neg;
    for (const auto& p : st.positive) pos.push_back(ana::tokenize(*m_aux, p));
    for (const auto& n : st.negative) neg.push_back(ana::tokenize(*m_aux, n));
    v = ana::contrastiveVector(*m_aux, layer, pos, neg);
  }
  if (m_steerCache.size() > 16) m_steerCache.clear();
  m_steerCache[key] = v;
  return v;
}

}  // namespace ll::ui
