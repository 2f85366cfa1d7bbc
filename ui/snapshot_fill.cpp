// Snapshot parts computed alike for local and remote sources (see snapshot_fill.h).
#include "ui/snapshot_fill.h"

#include "runtime/analysis/method_limits.h"
#include "runtime/analysis/routing_stats.h"
#include "runtime/analysis/stats.h"
#include "runtime/analysis/token_selection.h"
#include "ui/prompt_text.h"
#include "visualizers/qt/token_label.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ll::ui {

namespace ana = rt::ana;

void fillAttention(Snapshot& s, const std::shared_ptr<const rt::Trace>& trace,
                   const rt::Interventions& iv, AttentionMapCache& c,
                   const AttentionMapFn& attentionMap) {
  const rt::Trace& tr = *trace;
  const int T = tr.nTokens;
  auto mat = std::make_shared<vis::HeatmapMatrix>();
  mat->rows = mat->cols = T;
  if (s.layer < static_cast<int>(tr.layerAttn.size()))
    mat->maskWindow = tr.layerAttn[size_t(s.layer)].window;
  // Rows the previous keystroke computed for this layer, head and interventions are kept; only
  // the rows past the shared prefix (their queries are the trace's stored last rows) are new.
  int keep = 0;
  if (c.trace && c.map && c.layer == s.layer && c.head == s.head && c.iv == iv &&
      c.trace->nLayer == tr.nLayer && c.map->cols == c.trace->nTokens)
    keep = std::clamp(commonRows(*c.trace, tr), 0, T - 1);
  mat->values = attentionMap(s.layer, s.head >= 0 ? s.head : -1, keep);
  if (s.head == -2)  // the sum is nHead x the mean
    for (size_t i = size_t(keep) * T; i < mat->values.size(); ++i)
      mat->values[i] *= static_cast<float>(tr.nHead);
  const size_t To = static_cast<size_t>(c.trace ? c.trace->nTokens : 0);
  for (int i = 0; i < keep; ++i)  // causal: row i has keys 0..i only
    std::copy_n(c.map->values.begin() + static_cast<ptrdiff_t>(i * To), i + 1,
                mat->values.begin() + static_cast<ptrdiff_t>(size_t(i) * T));
  s.queryRow.assign(mat->values.begin() + static_cast<ptrdiff_t>(s.token) * T,
                    mat->values.begin() + static_cast<ptrdiff_t>(s.token + 1) * T);
  c = {trace, iv, s.layer, s.head, mat};
  s.attention = std::move(mat);
}

void fillTokenLens(Snapshot& s, const rt::Trace& tr, int32_t rankTarget, const LensFn& lens,
                   const PieceFn& piece) {
  int32_t target = rankTarget;
  if (target < 0 || target >= tr.nVocab) {
    const float* row = tr.logitsRow(s.token);
    target = static_cast<int32_t>(std::max_element(row, row + tr.nVocab) - row);
  }
  ana::LensOptions opt;
  opt.tokens = {s.token};
  opt.target = target;
  opt.mid = false;
  opt.topK = 1;
  const ana::LensResult r = lens(opt);
  s.lensEntropy = r.entropy;
  s.lensRank = r.rank;
  s.rankToken = target;
  s.rankTokenText = vis::tokenLabel(piece(target));
}

void fillPromptView(Snapshot& s, const std::shared_ptr<const rt::Trace>& trace,
                    const rt::Encoding& enc, int userOffset) {
  const rt::Trace& tr = *trace;
  const ViewState& st = s.state;
  s.trace = trace;
  s.reusedRows = tr.reusedRows;
  const int T = tr.nTokens;
  s.nTokens = T;
  for (const auto& p : enc.pieces) s.tokens << vis::tokenLabel(p);
  while (s.tokens.size() < T) s.tokens << QStringLiteral("?");
  s.charSpans = byteSpansToChars(st.prompt, userOffset, enc.spans);
  s.charSpans.resize(static_cast<size_t>(T), {-1, -1});
  s.layer = std::clamp(st.layer, 0, tr.nLayer - 1);
  s.head = std::clamp(st.head, -2, tr.nHead - 1);
  s.token = st.token < 0 || st.token >= T ? T - 1 : st.token;
}

void updateOutputEntropy(std::vector<float>& entropy, const rt::Trace& t) {
  const int keep = std::clamp(t.reusedRows, 0, static_cast<int>(entropy.size()));
  entropy.resize(static_cast<size_t>(t.nTokens));
  for (int r = keep; r < t.nTokens; ++r)
    entropy[r] = ana::rowStats(t.logitsRow(r), t.nVocab, 0).entropy;
}

void fillKnockoutWarning(Snapshot& s, const rt::ModelSpec& spec, const ViewState& st, int T) {
  if (!st.knockout) return;
  std::vector<int> from = st.knockout->from;
  if (st.knockout->fromIndex >= 0)
    for (int i = st.knockout->fromIndex; i < T; ++i) from.push_back(i);
  for (const auto& w : ana::knockoutWarnings(spec, from, st.knockout->to, st.knockout->layerBegin,
                                             st.knockout->layerEnd))
    s.knockoutWarning = QString::fromStdString(w);
}

void fillTopNext(Snapshot& s, const rt::Trace& tr, int topK, const PieceFn& piece) {
  const int T = tr.nTokens;
  const float* row = tr.logitsRow(T - 1);
  const float mx = *std::max_element(row, row + tr.nVocab);
  double z = 0.0;
  for (int i = 0; i < tr.nVocab; ++i) z += std::exp(double(row[i]) - mx);
  std::vector<int> idx(static_cast<size_t>(tr.nVocab));
  std::iota(idx.begin(), idx.end(), 0);
  const int k = std::clamp(topK, 1, tr.nVocab);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int a, int b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  for (int i = 0; i < k; ++i)
    s.topNext.emplace_back(vis::tokenLabel(piece(idx[i])),
                           static_cast<float>(std::exp(double(row[idx[i]]) - mx) / z));
}

void fillRouting(Snapshot& s, const rt::Trace& tr, const std::vector<rt::RouterEdit>& edits) {
  if (tr.nExpert <= 0) return;
  const int E = tr.nExpert, T = tr.nTokens;
  s.routing.assign(static_cast<size_t>(tr.nLayer) * T * E, 0.0f);
  for (int l = 0; l < tr.nLayer && size_t(l) < tr.layers.size(); ++l) {
    const auto& p = tr.layers[l].routerProbs;
    if (p.size() == static_cast<size_t>(T) * E)
      std::copy(p.begin(), p.end(), s.routing.begin() + static_cast<ptrdiff_t>(l) * T * E);
  }
  s.load = ana::expertLoad(tr);
  const auto over = ana::overForcedLayers(edits, tr.nExpertUsed);
  if (!over.empty()) {
    QStringList ls;
    for (int l : over) ls << QString::number(l);
    s.routingWarning = QStringLiteral(
                           "More experts forced than the model uses per token in "
                           "layer(s) %1: the output may derail.")
                           .arg(ls.join(QStringLiteral(", ")));
  }
}

void fillHeadGrid(Snapshot& s, const std::shared_ptr<const rt::Trace>& trace,
                  const rt::Interventions& iv, HeadGridCache& cache) {
  // G bounded so the host computation stays small; rows the previous keystroke computed are
  // reused (same queries and keys under prefix reuse).
  const rt::Trace& tr = *trace;
  const int T = tr.nTokens;
  const double perToken = double(tr.nLayer) * tr.nHead * T * tr.headDim;
  int G = std::min({T, kGridTokens, static_cast<int>(1e8 / std::max(1.0, perToken))});
  G = std::max(G, std::min(T, 4));
  s.headGrid = headGridRows(tr, G, &cache, iv);
  s.gridTokens = G;
  cache = {trace, iv, G, s.headGrid};
}

void fillSelection(Snapshot& s, const SelectionRunFn& run) {
  const int T = s.trace->nTokens;
  // The request every front end runs (selection_request.h): its defaults, k clamped to 1..T (the
  // panel clamps its slider as well), SnapKV's window and H2O's recent tokens derived from k.
  const ana::SelectionRequest req = selectionRequest(s.state.selection, s.layer);
  const ana::SelectionOutcome out = run(req);
  s.selectionK = out.params.k;
  s.selectionParams = out.params.record();
  s.kept = out.kept();
  s.scores = out.tokenScores;
  s.selectionReason = QString::fromStdString(out.reason);
  for (const auto& w : out.warnings) s.selectionWarnings << QString::fromStdString(w);
  if (req.method == SelectMethod::PromptDistill) {
    s.keptPerStage = out.distill.keptPerStage;
    for (const auto& st : out.params.stages) s.stageLayers.push_back(st.layer);
  }
  // The overlap table: the three single-layer methods with the same parameters at the same layer.
  const auto keptBy = [&](SelectMethod m) {
    if (m == req.method) return out.kept();
    ana::SelectionRequest other = req;
    other.method = m;
    other.layer = out.params.layer;
    return run(other).selection.kept;
  };
  const std::vector<int> gem = keptBy(SelectMethod::GemFilter);
  const std::vector<int> snap = keptBy(SelectMethod::SnapKv);
  const std::vector<int> h2o = keptBy(SelectMethod::H2O);
  s.overlap = {{QStringLiteral("GemFilter / SnapKV"), ana::jaccard(gem, snap)},
               {QStringLiteral("GemFilter / H2O"), ana::jaccard(gem, h2o)},
               {QStringLiteral("SnapKV / H2O"), ana::jaccard(snap, h2o)}};
  if (req.method == SelectMethod::PromptDistill)
    s.overlap.emplace_back(QStringLiteral("PromptDistill / GemFilter"), ana::jaccard(s.kept, gem));
  s.scores.resize(static_cast<size_t>(T), 0.0f);
}

}  // namespace ll::ui
